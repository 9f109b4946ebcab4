// Drawing: the decision regions with the points, the curves, and the network.
// Nothing here talks to the server: app.js hands in what a frame says.

export const CLASS_COLORS = ["#f59322", "#0877bd", "#2ca25f", "#8e44ad", "#d62728"];
const POS = [8, 119, 189];   // a positive weight or output: blue
const NEG = [245, 147, 34];  // a negative one: orange

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function bytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// ----- the decision regions and the points -----
const regionCanvas = document.createElement("canvas");

export function drawRegions(canvas, grid, points, showTest) {
  const ctx = canvas.getContext("2d");
  const n = grid.size;
  regionCanvas.width = n;
  regionCanvas.height = n;
  const rctx = regionCanvas.getContext("2d");
  const img = rctx.createImageData(n, n);
  const cls = bytes(grid.cls);
  const conf = bytes(grid.conf);
  const colors = CLASS_COLORS.map(rgb);
  for (let i = 0; i < n * n; i++) {
    const c = colors[cls[i]] || [128, 128, 128];
    const a = 0.12 + 0.6 * (conf[i] / 255);
    img.data[4 * i] = 255 + (c[0] - 255) * a;
    img.data[4 * i + 1] = 255 + (c[1] - 255) * a;
    img.data[4 * i + 2] = 255 + (c[2] - 255) * a;
    img.data[4 * i + 3] = 255;
  }
  rctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(regionCanvas, 0, 0, canvas.width, canvas.height);
  if (points) drawPoints(ctx, canvas, points, showTest);
}

export function toCanvas(canvas, domain, x, y) {
  const [x0, x1, y0, y1] = domain;
  return [((x - x0) / (x1 - x0)) * canvas.width, ((y1 - y) / (y1 - y0)) * canvas.height];
}

export function fromCanvas(canvas, domain, px, py) {
  const [x0, x1, y0, y1] = domain;
  return [x0 + (px / canvas.width) * (x1 - x0), y1 - (py / canvas.height) * (y1 - y0)];
}

function drawPoints(ctx, canvas, p, showTest) {
  const dot = (x, y, label, stroke, r, square) => {
    const [cx, cy] = toCanvas(canvas, p.domain, x, y);
    ctx.beginPath();
    if (square) ctx.rect(cx - r, cy - r, 2 * r, 2 * r);
    else ctx.arc(cx, cy, r, 0, 2 * Math.PI);
    ctx.fillStyle = CLASS_COLORS[label] || "#888";
    ctx.fill();
    ctx.lineWidth = 1.2;
    ctx.strokeStyle = stroke;
    ctx.stroke();
  };
  p.train.forEach(([x, y], i) => {
    const added = i >= p.added_from;
    dot(x, y, p.train_labels[i], added ? "#000" : "#fff", added ? 4.5 : 3.5, added);
  });
  if (showTest) p.test.forEach(([x, y], i) => dot(x, y, p.test_labels[i], "#222", 3.5, false));
}

// ----- the curves -----
export function drawCurve(canvas, series, { label, max }) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 22;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  const steps = series.step;
  let top = max;
  if (top === undefined) {
    top = 0;
    for (const key of ["train", "test"]) for (const v of series[key]) if (isFinite(v)) top = Math.max(top, v);
    top = top > 0 ? top * 1.05 : 1;
  }
  ctx.fillStyle = "#555";
  ctx.font = "11px sans-serif";
  ctx.fillText(label, 4, 12);
  ctx.fillText(top.toPrecision(2), 4, pad + 2);
  ctx.fillText("0", 4, h - 4);
  if (steps.length < 2) return;
  const s0 = steps[0], s1 = steps[steps.length - 1] || 1;
  const px = (s) => pad + ((s - s0) / Math.max(1, s1 - s0)) * (w - pad - 6);
  const py = (v) => h - 6 - (Math.min(v, top) / top) * (h - pad - 6);
  for (const [key, color, dash] of [["train", "#444", []], ["test", "#d6604d", [4, 3]]]) {
    ctx.beginPath();
    ctx.setLineDash(dash);
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    series[key].forEach((v, i) => {
      if (!isFinite(v)) return;
      if (i === 0) ctx.moveTo(px(steps[i]), py(v));
      else ctx.lineTo(px(steps[i]), py(v));
    });
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.fillStyle = "#555";
  ctx.fillText(`step ${s1}`, w - 70, h - 4);
}

// ----- the network -----
// Built once per architecture (build), then updated every frame (update): lines for the
// weights, small canvases for the units' own outputs.
const SVG = "http://www.w3.org/2000/svg";

export class NetworkView {
  constructor(root, onSelect) {
    this.root = root;
    this.onSelect = onSelect;
    this.key = "";
  }

  build(sizes, unitGrid) {
    // sizes: [2, h1, ..., k]
    this.key = sizes.join("-") + "/" + unitGrid;
    this.root.replaceChildren();
    const width = this.root.clientWidth || 420;
    const most = Math.max(...sizes);
    const node = Math.max(8, Math.min(30, Math.floor(360 / most) - 4));
    const gap = node + 4;
    const height = Math.max(...sizes.map((s) => s * gap)) + 24;
    this.root.style.height = height + "px";
    const cols = sizes.length;
    const xs = sizes.map((_, i) => 14 + (i * (width - 28 - node)) / Math.max(1, cols - 1));
    const pos = sizes.map((s, i) =>
      Array.from({ length: s }, (_, j) => [xs[i], 12 + (height - 24 - s * gap) / 2 + j * gap]));
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    this.root.appendChild(svg);
    this.edges = [];
    for (let l = 1; l < cols; l++) {
      const layer = [];
      for (let j = 0; j < sizes[l]; j++) {
        const row = [];
        for (let i = 0; i < sizes[l - 1]; i++) {
          const [xa, ya] = pos[l - 1][i], [xb, yb] = pos[l][j];
          const d = `M${xa + node},${ya + node / 2} L${xb},${yb + node / 2}`;
          const line = document.createElementNS(SVG, "path");
          line.setAttribute("d", d);
          line.setAttribute("class", "edge");
          const hit = document.createElementNS(SVG, "path");
          hit.setAttribute("d", d);
          hit.setAttribute("class", "edge-hit");
          hit.dataset.layer = l - 1;
          hit.dataset.out = j;
          hit.dataset.in = i;
          hit.addEventListener("click", () => this.onSelect({ kind: "weight", layer: l - 1, out: j, in: i }));
          svg.appendChild(line);
          svg.appendChild(hit);
          row.push(line);
        }
        layer.push(row);
      }
      this.edges.push(layer);
    }
    this.units = [];
    sizes.forEach((s, l) => {
      const col = [];
      for (let j = 0; j < s; j++) {
        const [x, y] = pos[l][j];
        const c = document.createElement("canvas");
        c.width = unitGrid;
        c.height = unitGrid;
        c.className = "unit" + (l === 0 ? " input" : l === cols - 1 ? " out" : "");
        c.style.left = x + "px";
        c.style.top = y + "px";
        c.style.width = node + "px";
        c.style.height = node + "px";
        if (l > 0) {
          c.dataset.layer = l - 1;
          c.dataset.unit = j;
          c.title = l === cols - 1 ? `output ${j} (class ${j})` : `layer ${l}, unit ${j}`;
          c.addEventListener("click", () => this.onSelect({ kind: "unit", layer: l - 1, unit: j }));
        } else {
          c.title = j === 0 ? "input x1" : "input x2";
        }
        this.root.appendChild(c);
        col.push(c);
      }
      this.units.push(col);
    });
    // the inputs' images never change: x1 grows to the right, x2 upwards
    this.units[0].forEach((c, j) => {
      const ctx = c.getContext("2d");
      const img = ctx.createImageData(unitGrid, unitGrid);
      for (let r = 0; r < unitGrid; r++)
        for (let q = 0; q < unitGrid; q++) {
          const v = j === 0 ? q / (unitGrid - 1) : 1 - r / (unitGrid - 1);
          shade(img.data, 4 * (r * unitGrid + q), 2 * v - 1);
        }
      ctx.putImageData(img, 0, 0);
    });
    this.units[cols - 1].forEach((c, j) => {
      c.style.background = CLASS_COLORS[j];
    });
  }

  update(frame, selected) {
    let most = 1e-9;
    for (const layer of frame.layers) for (const row of layer.w) for (const ps of row)
      for (const v of ps) most = Math.max(most, Math.abs(v));
    frame.layers.forEach((layer, l) => {
      layer.w.forEach((row, j) => row.forEach((ps, i) => {
        const v = ps.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
        const line = this.edges[l][j][i];
        line.setAttribute("stroke", v >= 0 ? `rgb(${POS})` : `rgb(${NEG})`);
        line.setAttribute("stroke-width", (0.3 + 4.5 * Math.sqrt(Math.abs(v) / most)).toFixed(2));
        const on = selected && selected.kind === "weight" && selected.layer === l &&
          selected.out === j && selected.in === i;
        line.classList.toggle("selected", !!on);
      }));
    });
    const g = frame.unit_grid;
    frame.units.forEach((layer, l) => {
      layer.images.forEach((b64, j) => {
        const c = this.units[l + 1][j];
        const ctx = c.getContext("2d");
        const img = ctx.createImageData(g, g);
        const q = bytes(b64);
        for (let i = 0; i < q.length; i++) shade(img.data, 4 * i, (q[i] - 128) / 127);
        ctx.putImageData(img, 0, 0);
      });
    });
    for (const col of this.units) for (const c of col) c.classList.remove("selected");
    if (selected && selected.kind === "unit") {
      const c = (this.units[selected.layer + 1] || [])[selected.unit];
      if (c) c.classList.add("selected");
    }
  }
}

function shade(data, k, v) {
  // v in [-1, 1]: orange for negative, white at 0, blue for positive
  const c = v >= 0 ? POS : NEG;
  const a = Math.min(1, Math.abs(v));
  data[k] = 255 + (c[0] - 255) * a;
  data[k + 1] = 255 + (c[1] - 255) * a;
  data[k + 2] = 255 + (c[2] - 255) * a;
  data[k + 3] = 255;
}
