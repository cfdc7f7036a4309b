// Simulcast health on the admin session page: each destination's row shows its status
// (正在连接, 推流正常, 推流中断), retries and last error, from the staff snapshot's "simulcast"
// and every "simulcast" event (docs/protocol.md). Keys never reach the page; text goes in as text.

export const SIMULCAST_LABELS = {
  idle: "未开始", connecting: "正在连接", up: "推流正常", down: "推流中断", stopped: "已停止",
  nokey: "密钥需重新输入",
};

/** Update the rows of `table` (tbody rows carry data-target-id) from the pushes' health. */
export function renderSimulcast(table, pushes) {
  if (!table || !Array.isArray(pushes)) return;
  const byId = new Map(pushes.map((p) => [p.id, p]));
  for (const tr of table.querySelectorAll("tbody tr[data-target-id]")) {
    const push = byId.get(tr.dataset.targetId);
    const status = push ? push.status : "idle";
    const tag = tr.querySelector('[data-field="status"]');
    tag.textContent = SIMULCAST_LABELS[status] || status;
    tag.className = `tag simulcast-${status}`;
    let retries = tr.querySelector('[data-field="retries"]');
    if (push && push.retries) {
      if (!retries) {
        retries = document.createElement("span");
        retries.className = "hint";
        retries.dataset.field = "retries";
        tag.after(" ", retries);
      }
      retries.textContent = `重试 ${push.retries} 次`;
    }
    if (push) tr.querySelector('[data-field="error"]').textContent = push.last_error || "";
    tr.dataset.status = status;
  }
}
