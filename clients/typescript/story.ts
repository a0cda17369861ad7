// A mobile client's checkout and confirmation, typed only by the types openapi-typescript
// generates from /v1/openapi.json (tests/test_typescript_types.py writes them next to this
// file as paylater-api.ts and runs `tsc --noEmit --strict`). A field the app relies on that
// disappears from, or changes type in, the document fails the type check.
import type { components, paths } from "./paylater-api";

type Schemas = components["schemas"];
type Checkout = paths["/v1/checkout"]["post"];
type Confirmation = paths["/v1/orders/{order_id}/confirmation"]["post"];

type CheckoutBody = Checkout["requestBody"]["content"]["application/json"];
type CheckoutCreated = Checkout["responses"][201]["content"]["application/json"];
type CheckoutConflict = Checkout["responses"][409]["content"]["application/problem+json"];
type ConfirmationBody = Confirmation["requestBody"]["content"]["application/json"];
type Confirmed = Confirmation["responses"][200]["content"]["application/json"];

interface Sent<B> {
  path: string;
  headers: Record<string, string>;
  body: B;
}

// Buy now with a typed address and line: every field the app sends must still exist.
export function buyNow(skuId: string, idempotencyKey: string): Sent<CheckoutBody> {
  const address: Schemas["AddressIn"] = { name: "张三", phone: "13800138000", line1: "建国路 1 号", city: "北京" };
  const line: Schemas["LineIn"] = { sku_id: skuId, quantity: 1 };
  const body: Schemas["CheckoutItemsIn"] = { items: [line], payment_method: "bnpl", address, coupon_id: null };
  const header: Checkout["parameters"]["header"] = { "Idempotency-Key": idempotencyKey };
  return { path: "/v1/checkout", headers: { ...header }, body };
}

// The selected cart lines to a saved address.
export function fromCart(addressId: string): CheckoutBody {
  const body: Schemas["CheckoutCartSavedAddressIn"] = { from_cart: true, address_id: addressId, payment_method: "alipay" };
  return body;
}

// What the app reads from 201: each order and its confirmation challenge.
export function challenges(created: CheckoutCreated): { orderId: string; challengeId: string; totalFen: number }[] {
  return created.orders.map((order) => ({
    orderId: order.order_id,
    challengeId: order.challenge.challenge_id,
    totalFen: order.total_fen,
  }));
}

// Confirm with the payment password, or with the device's signature over the nonce.
export function confirm(orderId: string, challengeId: string, password: string, key: string): Sent<ConfirmationBody> {
  const path: Confirmation["parameters"]["path"] = { order_id: orderId };
  const body: Schemas["PasswordConfirmationIn"] = { challenge_id: challengeId, password };
  return { path: `/v1/orders/${path.order_id}/confirmation`, headers: { "Idempotency-Key": key }, body };
}

export function confirmOnDevice(challengeId: string, deviceId: string, signature: string): ConfirmationBody {
  const body: Schemas["DeviceConfirmationIn"] = { challenge_id: challengeId, device_id: deviceId, signature };
  return body;
}

// The confirmed order: a status the app switches on exhaustively, and the payment to launch.
export function afterConfirmation(confirmed: Confirmed): string {
  const paid: number = confirmed.credit_reserved_fen;
  switch (confirmed.status) {
    case "placed":
      return `placed on credit: ${paid} fen reserved of ${confirmed.total_fen}`;
    case "awaiting_payment":
      return confirmed.payment == null ? "no launch data" : `launch ${confirmed.payment.channel}`;
    default:
      return confirmed.status;
  }
}

// A refused checkout is problem+json with a stable code.
export function refused(problem: CheckoutConflict): string {
  return `${problem.status} ${problem.code}: ${problem.detail}`;
}
