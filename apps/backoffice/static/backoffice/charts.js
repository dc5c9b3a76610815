/* The back-office's interactive charts (the tearsheet's, the dashboard's equity curve), drawn with uPlot from
   the JSON the page carries (#tearsheet-data, #dashboard-data).
   Colours come from the admin's CSS variables and are re-read when the theme changes, so the axes and
   labels stay readable in dark mode. No network, no inline handlers (the Content-Security-Policy holds). */
(function () {
  "use strict";
  const GAIN = "#2e9d5b", LOSS = "#d64545", LINE = "#2c7be5", BENCH = "#e0a800", VOL = "#9b59b6";

  function palette() {
    const style = getComputedStyle(document.documentElement);
    const read = (name, fallback) => (style.getPropertyValue(name) || "").trim() || fallback;
    return { fg: read("--body-fg", "#333"), quiet: read("--body-quiet-color", "#666"), grid: read("--hairline-color", "#ddd") };
  }

  function axes(colours, yLabel, extra) {
    const axis = { stroke: colours.fg, grid: { stroke: colours.grid, width: 1 }, ticks: { stroke: colours.grid } };
    const list = [Object.assign({}, axis), Object.assign({ label: yLabel, labelSize: 18, size: 64 }, axis)];
    if (extra) list.push(Object.assign({ side: 1, scale: extra.scale, label: extra.label, labelSize: 18, size: 56 }, axis, { grid: { show: false } }));
    return list;
  }

  function fmt(digits, suffix) {
    return (u, v) => (v == null ? "—" : v.toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits }) + (suffix || ""));
  }

  function bars(u, seriesIdx, idx0, idx1) { return uPlot.paths.bars({ size: [0.8, 40] })(u, seriesIdx, idx0, idx1); }

  function build(kind, data, colours, width) {
    const base = { width: width, height: 260, legend: { live: true }, cursor: { drag: { x: true, y: false } } };
    if (kind === "equity") {
      const series = [{ label: "day" }, { label: "strategy", stroke: LINE, width: 2, value: fmt(4) }];
      const values = [data.x, data.index];
      if (data.benchmark_index) { series.push({ label: "buy-and-hold " + data.benchmark, stroke: BENCH, width: 1.5, value: fmt(4) }); values.push(data.benchmark_index); }
      return [Object.assign(base, { series: series, axes: axes(colours, "growth of 1") }), values];
    }
    if (kind === "account-equity") {
      const series = [{ label: "day" }, { label: "total value", stroke: LINE, width: 2, value: fmt(2) }];
      const values = [data.x, data.equity];
      if (data.benchmark_equity) { series.push({ label: "buy-and-hold " + data.benchmark, stroke: BENCH, width: 1.5, value: fmt(2) }); values.push(data.benchmark_equity); }
      return [Object.assign(base, { series: series, axes: axes(colours, data.currency) }), values];
    }
    if (kind === "drawdown") {
      return [Object.assign(base, { series: [{ label: "day" }, { label: "drawdown", stroke: LOSS, fill: "rgba(214,69,69,0.25)", value: fmt(2, "%") }], axes: axes(colours, "%") }), [data.x, data.drawdown]];
    }
    if (kind === "rolling") {
      return [Object.assign(base, {
        series: [{ label: "day" }, { label: "Sharpe (90 d)", stroke: LINE, value: fmt(2) }, { label: "volatility (90 d, ann.)", stroke: VOL, scale: "vol", value: fmt(1, "%") }],
        axes: axes(colours, "Sharpe", { scale: "vol", label: "volatility %" }),
      }), [data.x, data.rolling_sharpe, data.rolling_volatility]];
    }
    if (kind === "histogram") {
      const mids = data.histogram.map((b) => (b[0] + b[1]) / 2), counts = data.histogram.map((b) => b[2]);
      return [Object.assign(base, {
        scales: { x: { time: false } },
        series: [{ label: "return %", value: fmt(2, "%") }, { label: "days", stroke: LINE, fill: "rgba(44,123,229,0.45)", paths: bars, points: { show: false } }],
        axes: axes(colours, "days"),
      }), [mids, counts]];
    }
    if (kind === "pnl") {
      return [Object.assign(base, {
        series: [{ label: "day" }, { label: "PnL", stroke: GAIN, fill: "rgba(46,157,91,0.35)", paths: bars, points: { show: false }, value: fmt(2) },
                 { label: "net of inference", stroke: colours.fg, width: 1, value: fmt(2) }],
        axes: axes(colours, data.currency),
      }), [data.pnl_x, data.pnl, data.net]];
    }
    return null;
  }

  function draw() {
    if (typeof uPlot === "undefined") return;
    const colours = palette();
    document.querySelectorAll(".ts-chart").forEach((el) => {
      const source = document.getElementById(el.dataset.source || "tearsheet-data");
      if (!source) return;
      const data = JSON.parse(source.textContent);
      el.replaceChildren();
      const kind = el.dataset.chart;
      if ((kind === "pnl" ? data.pnl_x : data.x).length < 2) { el.textContent = "Not enough days to draw."; return; }
      const built = build(kind, data, colours, Math.max(el.clientWidth, 320));
      if (built) new uPlot(built[0], built[1], el);
      el.dataset.axisColour = colours.fg;  // what the axes were drawn in (the theme's text colour)
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  if (document.readyState !== "loading") draw();
  new MutationObserver(draw).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", draw);
  let resizing;
  window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(draw, 200); });
})();
