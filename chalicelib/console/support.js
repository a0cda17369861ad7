// Support (客服): disputes the consumer escalated (平台介入). The API for them arrives with
// the after-sale release (issue 14: GET /v1/support/disputes, GET .../{dispute_id},
// POST .../{dispute_id}/decision); until this deployment's API has it, the screen says so
// and shows nothing made up.

import { call, hasOperation } from "./api.js";
import { h, pagedList, when } from "./ui.js";

function disputeCard(d) {
  const titleId = `dispute-${d.dispute_id}`;
  return h("article", { class: "card dispute", "aria-labelledby": titleId },
    h("h3", { id: titleId }, `纠纷 Dispute ${d.dispute_id}`),
    h("dl", { class: "facts" },
      h("dt", {}, "订单 Order"), h("dd", {}, d.order_id || "—"),
      h("dt", {}, "状态 Status"), h("dd", {}, d.status || "—"),
      h("dt", {}, "原因 Reason"), h("dd", {}, d.reason || "—"),
      h("dt", {}, "提交于 Opened"), h("dd", {}, when(d.created_at))));
}

export const supportScreen = {
  id: "support",
  role: "support",
  title: "平台介入 Disputes",
  async render(main) {
    main.replaceChildren(h("h2", {}, this.title));
    if (!(await hasOperation("GET", "/v1/support/disputes"))) {
      main.append(h("p", { class: "card muted", role: "status" },
        "此部署的 API 尚无纠纷处理功能。 Disputes are not in this deployment's API yet."));
      return;
    }
    const list = pagedList({
      label: "纠纷 Disputes",
      empty: "没有待处理的纠纷 No open disputes",
      load: (cursor) => call("GET", "/v1/support/disputes", { query: { status: "open", limit: 20, cursor } }),
      row: disputeCard,
    });
    main.append(list.element);
    list.reload();
  },
};
