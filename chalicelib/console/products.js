// Merchant products (商品): the merchant's own products (GET /v1/products?merchant_id=<the
// signed-in merchant>), each opened for its SKUs (GET /v1/products/{id}) and edited as a
// whole (PUT /v1/merchant/products/{id}: listed SKUs kept or added, unlisted ones
// withdrawn); a new product with POST /v1/merchant/products. Prices are typed in yuan and
// sent as integer fen, converted from the decimal digits (never through a float); the
// interest-free (免息) plans are checkboxes, sent with every save.

import { call, currentSession } from "./api.js";
import { attributesText } from "./orders.js";
import { fenFromYuan, h, hint, onSubmit, pagedList, problemText, say, statusLine, yuan, yuanDigits } from "./ui.js";

const MAX_SKUS = 30;
const PLANS = [3, 6, 12]; // the installment plans PayLater offers (stage setting INSTALLMENT_PLANS)

// 免息: the plans whose fee the shop pays. Sent with every save (an edit is the product as it
// should be: a plan left out is no longer interest-free).
function interestFree(product) {
  const chosen = new Set((product && product.interest_free_parts) || []);
  const boxes = [...new Set([...PLANS, ...chosen])].sort((a, b) => a - b).map((n) =>
    h("label", {}, h("input", { type: "checkbox", name: "interest_free_parts", value: n, checked: chosen.has(n) ? "" : null }), ` ${n} 期 parts`));
  const box = h("fieldset", { class: "plans" }, h("legend", {}, "免息分期（手续费由商家承担）Interest-free installments (the shop pays the fee)"), boxes);
  return { box, read: () => [...box.querySelectorAll("input:checked")].map((i) => Number(i.value)) };
}

// "颜色=黑色; 尺码=M" (or 颜色: 黑色, …) → {"颜色": "黑色", "尺码": "M"}; null when a part has no value.
export function parseAttributes(text) {
  const out = {};
  for (const part of String(text).split(/[;,，；\n]/).map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=:：]+)[=:：](.+)$/.exec(part);
    if (!m) return null;
    out[m[1].trim()] = m[2].trim();
  }
  return out;
}

function skuRow(sku, index, onRemove) {
  const attributes = h("input", { type: "text", name: "attributes", autocomplete: "off", value: sku ? Object.entries(sku.attributes).map(([k, v]) => `${k}=${v}`).join("; ") : "" });
  const price = h("input", {
    type: "text", name: "price", required: true, inputmode: "decimal", autocomplete: "off",
    pattern: "\\s*\\d{1,10}(\\.\\d{1,2})?\\s*", value: sku ? yuanDigits(sku.price_fen) : "",
  });
  const stock = h("input", { type: "number", name: "stock", required: true, min: 0, max: 1000000, step: 1, value: sku ? String(sku.stock) : "" });
  const remove = h("button", { type: "button", class: "danger" }, "删除规格 Remove SKU");
  const legend = h("legend", {}, `规格 SKU ${index + 1}`);
  const row = h("fieldset", { class: "sku" }, legend,
    h("label", {}, "属性 Attributes ", attributes), hint(attributes, "如 e.g. 颜色=黑色; 尺码=M"),
    h("label", {}, "价格（元） Price (yuan) ", price), hint(price, "元，最多两位小数 yuan, up to 2 decimals, e.g. 29.90"),
    h("label", {}, "库存 Stock ", stock),
    h("div", { class: "actions" }, remove));
  remove.addEventListener("click", () => onRemove(row));
  return {
    row,
    legend,
    remove,
    read() {
      const attrs = parseAttributes(attributes.value);
      const fen = fenFromYuan(price.value);
      if (attrs === null) throw new Error(`${legend.textContent}: 属性写作 Write attributes as 名=值 name=value`);
      if (!fen) throw new Error(`${legend.textContent}: 价格应为大于 0 的金额 The price must be an amount above 0 (e.g. 29.90)`);
      return { ...(sku ? { sku_id: sku.sku_id } : {}), attributes: attrs, price_fen: fen, stock: Number(stock.value) };
    },
  };
}

// The product form, for a new product (`product` null) or an existing one; `save(body)`
// calls the API and returns the saved ProductView.
function productForm(product, save, onSaved) {
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 200, autocomplete: "off", value: product ? product.name : "" });
  const description = h("textarea", { name: "description", rows: 2, maxlength: 5000 });
  description.value = product ? product.description : "";
  const rows = [];
  const box = h("div", { class: "skus" });
  const add = h("button", { type: "button", class: "secondary" }, "添加规格 Add SKU");
  const renumber = () => {
    rows.forEach((r, i) => {
      r.legend.textContent = `规格 SKU ${i + 1}`;
      r.remove.disabled = rows.length === 1; // a product keeps at least one SKU
    });
    add.disabled = rows.length >= MAX_SKUS;
  };
  const addRow = (sku) => {
    const r = skuRow(sku, rows.length, (el) => {
      rows.splice(rows.findIndex((x) => x.row === el), 1);
      el.remove();
      renumber();
    });
    rows.push(r);
    box.append(r.row);
    renumber();
  };
  (product ? product.skus : [null]).forEach(addRow);
  add.addEventListener("click", () => addRow(null));
  const free = interestFree(product);
  const submit = h("button", { type: "submit" }, product ? "保存商品 Save product" : "创建商品 Create product");
  const status = statusLine();
  const form = h("form", { class: "card product-form", "aria-label": product ? `编辑 Edit ${product.name}` : "新商品 New product" },
    h("label", {}, "名称 Name ", name),
    h("label", {}, "描述 Description ", description),
    box, free.box, h("div", { class: "actions" }, add, submit), status);
  onSubmit(form, submit, status, async () => {
    const body = { name: name.value.trim(), description: description.value, skus: rows.map((r) => r.read()), interest_free_parts: free.read() };
    const saved = await save(body);
    onSaved(saved);
    const plans = saved.interest_free_parts || [];
    return `已保存 Saved · ${saved.name} · ${saved.skus.map((s) => yuan(s.price_fen)).join(", ")}${plans.length ? ` · 免息 Interest-free ${plans.join("/")} 期 parts` : ""}`;
  }, { busy: "保存中… Saving…" });
  return form;
}

function skuList(product) {
  return h("ul", { class: "plain" }, product.skus.map((s) =>
    h("li", {}, `${attributesText(s.attributes) || "—"} · ${yuan(s.price_fen)} · 库存 stock ${s.stock}`)));
}

function productCard(p, reload) {
  const titleId = `product-${p.product_id}`;
  const edit = h("button", { type: "button", class: "secondary", "aria-expanded": "false" }, "编辑 Edit");
  const slot = h("div", { class: "detail-slot" });
  const status = statusLine();
  edit.addEventListener("click", async () => {
    if (edit.getAttribute("aria-expanded") === "true") {
      slot.replaceChildren();
      edit.setAttribute("aria-expanded", "false");
      return;
    }
    say(status, "加载中… Loading…", "busy");
    try {
      const full = await call("GET", `/v1/products/${p.product_id}`);
      say(status, "", "ok");
      slot.replaceChildren(skuList(full), productForm(full,
        (body) => call("PUT", `/v1/merchant/products/${p.product_id}`, { body }),
        (saved) => slot.firstChild.replaceWith(skuList(saved))));
      edit.setAttribute("aria-expanded", "true");
    } catch (err) {
      say(status, problemText(err), "error");
      if (err.status === 404) reload();
    }
  });
  return h("article", { class: "card product", "aria-labelledby": titleId },
    h("header", {}, h("h3", { id: titleId }, p.name), h("span", { class: "amount" }, `${yuan(p.price_from_fen)} 起 from`)),
    h("p", { class: "muted" }, p.product_id),
    h("div", { class: "actions" }, edit), status, slot);
}

export function productsSection() {
  const me = currentSession().sub;
  const list = pagedList({
    label: "商品 Products",
    empty: "还没有商品 No products yet",
    load: (cursor) => call("GET", "/v1/products", { query: { merchant_id: me, limit: 20, cursor } }),
    row: productCard,
  });
  const create = h("button", { type: "button", "aria-expanded": "false" }, "新建商品 New product");
  const slot = h("div", {});
  create.addEventListener("click", () => {
    const open = !slot.firstChild;
    slot.replaceChildren(...(open ? [productForm(null, (body) => call("POST", "/v1/merchant/products", { body }), () => list.reload())] : []));
    create.setAttribute("aria-expanded", String(open));
  });
  list.reload();
  return h("section", { "aria-labelledby": "products-title" },
    h("h3", { id: "products-title" }, "商品 Products"),
    h("div", { class: "toolbar" }, create), slot, list.element);
}
