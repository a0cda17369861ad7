// A mobile client's error handling, typed only by what openapi-typescript generates from
// /v1/openapi.json (tests/test_typescript_types.py type-checks it with the story): every
// error answer is one `Problem` (one global handler), and an answer's status narrows its
// `code` to the codes the operation declares for that status.
import type { components, paths } from "./paylater-api";

type Problem = components["schemas"]["Problem"];
type ConfirmationResponses = paths["/v1/orders/{order_id}/confirmation"]["post"]["responses"];

type ProblemOf<R> = R extends { content: { "application/problem+json": infer P } } ? P : never;
// What an answer of each status carries, as a union the app narrows by `status`.
type ErrorAnswer<Rs> = {
  [S in keyof Rs]: S extends number ? (ProblemOf<Rs[S]> extends never ? never : { status: S; error: ProblemOf<Rs[S]> }) : never;
}[keyof Rs];

export type ConfirmationError = ErrorAnswer<ConfirmationResponses>;

// One handler for every error of every operation: each is a Problem.
export function describe(problem: Problem): string {
  return `${problem.status} ${problem.code}: ${problem.detail} (request ${problem.request_id})`;
}

export function onConfirmationError(answer: ConfirmationError): string {
  if (answer.status === 423) {
    // Narrowed by the status: a 423 carries only this code.
    const locked: "payment_password_locked" = answer.error.code;
    return `locked: ${locked}`;
  }
  if (answer.status === 409) {
    type ConflictCode = typeof answer.error.code;
    const used: ConflictCode = "challenge_used";
    // @ts-expect-error a 404's code is not one of the 409's (compiles only while `code` is narrowed)
    const notFound: ConflictCode = "order_not_found";
    return `${used} ${notFound} ${describe(answer.error)}`;
  }
  return describe(answer.error);
}
