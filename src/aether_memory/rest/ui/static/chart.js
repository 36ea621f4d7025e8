// Small SVG charts drawn here (no library): bars per time bucket, or lines. Each chart has
// an accessible name and its numbers in a table beside it.
import { h, table } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 640;
const H = 200;
const PAD = { left: 48, right: 8, top: 12, bottom: 28 };

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function axis(max, svg, unit) {
  const y0 = H - PAD.bottom;
  svg.append(s("line", { x1: PAD.left, y1: y0, x2: W - PAD.right, y2: y0, class: "axis" }));
  svg.append(s("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: y0, class: "axis" }));
  svg.append(s("text", { x: PAD.left - 4, y: PAD.top + 8, class: "tick", "text-anchor": "end" }, fmt(max) + (unit || "")));
  svg.append(s("text", { x: PAD.left - 4, y: y0, class: "tick", "text-anchor": "end" }, "0"));
}

function fmt(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function xLabels(svg, labels, step) {
  const every = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((label, i) => {
    if (i % every) return;
    svg.append(s("text", { x: PAD.left + step * (i + 0.5), y: H - 8, class: "tick", "text-anchor": "middle" }, label));
  });
}

/**
 * A chart of series over the same time buckets.
 * @param {{title: string, labels: string[], series: {name: string, values: number[]}[],
 *          kind?: "bars"|"lines", unit?: string, id?: string}} spec
 */
export function chart(spec) {
  const { title, labels, series, kind = "bars", unit = "" } = spec;
  const max = Math.max(1, ...series.flatMap((x) => x.values));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "chart" });
  svg.append(s("title", null, title));
  axis(max, svg, unit);
  const span = W - PAD.left - PAD.right;
  const step = span / Math.max(1, labels.length);
  const height = H - PAD.top - PAD.bottom;
  const y = (v) => H - PAD.bottom - (v / max) * height;
  series.forEach((line, si) => {
    if (kind === "bars") {
      const width = Math.max(1, (step * 0.8) / series.length);
      line.values.forEach((v, i) => {
        const x = PAD.left + step * i + step * 0.1 + width * si;
        svg.append(s("rect", { x, y: y(v), width, height: Math.max(0, H - PAD.bottom - y(v)), class: `bar s${si}`, "data-series": line.name, "data-value": v },
          s("title", null, `${labels[i]} ${line.name}: ${fmt(v)}${unit}`)));
      });
    } else {
      const points = line.values.map((v, i) => `${PAD.left + step * (i + 0.5)},${y(v)}`).join(" ");
      svg.append(s("polyline", { points, class: `line s${si}`, "data-series": line.name }));
      line.values.forEach((v, i) => svg.append(s("circle", { cx: PAD.left + step * (i + 0.5), cy: y(v), r: 3, class: `dot s${si}`, "data-value": v },
        s("title", null, `${labels[i]} ${line.name}: ${fmt(v)}${unit}`))));
    }
  });
  xLabels(svg, labels, step);
  const legend = h("ul", { class: "legend" }, series.map((x, si) => h("li", null, h("span", { class: `swatch s${si}`, "aria-hidden": "true" }), x.name)));
  const numbers = table(title, ["bucket", ...series.map((x) => x.name)],
    labels.map((label, i) => [label, ...series.map((x) => fmt(x.values[i]))]));
  return h("figure", { class: "figure", id: spec.id },
    h("figcaption", null, title), svg, legend,
    h("details", null, h("summary", null, "Numbers"), numbers));
}
