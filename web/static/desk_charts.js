// The desk's charts (每日复盘 and 数据统计): each <canvas data-chart=… data-src=…> is drawn
// with Chart.js (window.Chart, /vendor/chart.js) from the JSON endpoint it names.

const COLORS = {
  asked: "#3b6fd8", answered: "#2e9d5b", replied: "#8a5cd1", declined: "#d0523f",
  open: "#d9a400", views: "#3b6fd8",
};
const LABELS = {
  asked: "提问", answered: "直播解答", replied: "文字回复", declined: "未采纳", open: "未处理",
  views: "播放",
};

function bars(rows, key, names) {
  return {
    labels: rows.map((row) => row[key] || "（无）"),
    datasets: names.map((name) => ({
      label: LABELS[name], data: rows.map((row) => row[name]), backgroundColor: COLORS[name],
    })),
  };
}

const BUILDERS = {
  "review-days": (data) => bars(data.days, "day", ["answered", "replied", "declined", "open"]),
  "review-categories": (data) => bars(data.categories, "name", ["asked"]),
  "stats-questions": (data) => bars(data.groups, "key", ["answered", "replied", "declined", "open"]),
  "stats-views": (data) => bars(data.days, "day", ["views"]),
};
const STACKED = new Set(["review-days", "stats-questions"]);

async function draw(canvas) {
  const response = await fetch(canvas.dataset.src, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    canvas.dataset.state = "error";
    return;
  }
  const build = BUILDERS[canvas.dataset.chart];
  const stacked = STACKED.has(canvas.dataset.chart);
  // eslint-disable-next-line no-undef
  new window.Chart(canvas, {
    type: "bar",
    data: build(await response.json()),
    options: {
      animation: false,
      responsive: true,
      scales: { x: { stacked }, y: { stacked, beginAtZero: true } },
    },
  });
  canvas.dataset.state = "drawn";
}

function start() {
  if (!window.Chart) {
    document.querySelectorAll("canvas[data-chart]").forEach((c) => { c.dataset.state = "no-chart-js"; });
    return;
  }
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => { draw(canvas); });
}

// chart.js is a deferred classic script; module scripts run after it, in order.
start();
