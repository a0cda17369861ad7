// A carrier + tracking number form: the merchant's shipment and an exchange's reshipment.

import { h, hint, onSubmit, statusLine } from "./ui.js";

export const CARRIERS = [
  ["SF", "顺丰 SF Express"],
  ["YTO", "圆通 YTO"],
  ["ZTO", "中通 ZTO"],
  ["STO", "申通 STO"],
  ["YD", "韵达 Yunda"],
  ["EMS", "EMS"],
  ["JD", "京东 JD Logistics"],
];

// send({carrier, tracking_number}) calls the API and returns the text to show on success.
export function carrierForm(buttonLabel, send) {
  const carrier = h("select", { name: "carrier", required: true }, CARRIERS.map(([v, t]) => h("option", { value: v }, t)));
  const tracking = h("input", {
    type: "text", name: "tracking_number", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9\\-]{2,38}[A-Za-z0-9]", autocomplete: "off",
  });
  const status = statusLine();
  const submit = h("button", { type: "submit" }, buttonLabel);
  const form = h("form", { class: "ship" },
    h("label", {}, "快递公司 Carrier ", carrier),
    h("label", {}, "运单号 Tracking number ", tracking),
    hint(tracking, "4–40 位字母、数字或 -，首尾为字母或数字 4–40 letters, digits or -, starting and ending with a letter or digit"),
    submit, status);
  onSubmit(form, submit, status, () => send({ carrier: carrier.value, tracking_number: tracking.value.trim() }), { once: true });
  return form;
}
