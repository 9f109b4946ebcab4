// The playground page: the controls, the conversation with the server, the address.
// The server checks every setting; this page sends what the person typed and shows the answer.

import { CLASS_COLORS, NetworkView, drawCurve, drawRegions, fromCanvas } from "./draw.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["dataset", "classes", "noise", "points", "test_fraction", "seed", "added",
  "hidden", "activation", "loss", "l2", "lr", "batch_size", "optimizer"];
const MAX_HISTORY = 1500;

const state = {
  ws: null,
  hello: null,
  config: null,
  points: null,
  frame: null,        // the latest frame, drawn at the next animation frame
  drawn: null,        // the frame on the screen
  unacked: 0,
  scheduled: false,
  running: false,
  selected: null,
  addClass: 0,
  history: { step: [], trainLoss: [], testLoss: [], trainAcc: [], testAcc: [] },
  modelVersion: -1,
  lastError: "",
};
window.playground = { state, send };  // for the browser tests and for the curious

const network = new NetworkView($("network"), (sel) => {
  state.selected = sel;
  showDetails();
  if (state.drawn) network.update(state.drawn, state.selected);
});

// ----- the connection -----
function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws`);
  state.ws = ws;
  ws.onopen = () => setConnection("connected", "ok");
  ws.onclose = () => {
    setConnection("disconnected: reload the page", "bad");
    for (const id of ["start", "step", "reset", "explain"]) $(id).disabled = true;
  };
  ws.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (e) {
      showError(`the server sent something unreadable: ${e}`);
      return;
    }
    const handler = HANDLERS[msg.type];
    if (handler) handler(msg);
  };
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function setConnection(text, cls) {
  const el = $("connection");
  el.textContent = text;
  el.className = "conn " + cls;
}

const HANDLERS = {
  hello(msg) {
    state.hello = msg;
    fillChoices(msg);
    for (const id of ["start", "step", "reset", "explain"]) $(id).disabled = false;
    const changes = readHash();
    if (Object.keys(changes).length) send({ type: "config", config: changes });
  },
  config(msg) {
    state.config = msg.config;
    showConfig(msg.config);
    writeHash(msg.config);
  },
  points(msg) {
    state.points = msg;
    if (state.drawn) drawOutput(state.drawn);
  },
  frame(msg) {
    state.frame = msg;
    state.unacked += 1;
    if (!state.scheduled) {
      state.scheduled = true;
      requestAnimationFrame(drawLatest);
    }
  },
  state(msg) {
    state.running = msg.running;
    $("start").textContent = msg.running ? "Pause" : "Start";
    $("start").classList.toggle("running", msg.running);
    document.body.dataset.running = msg.running ? "1" : "0";
  },
  error(msg) {
    showError(msg.message);
  },
  explain(msg) {
    showExplanation(msg);
  },
};

// ----- drawing a frame -----
function drawLatest() {
  state.scheduled = false;
  const f = state.frame;
  if (state.unacked) {
    send({ type: "ack", n: state.unacked });
    state.unacked = 0;
  }
  if (!f || f === state.drawn) return;
  if (!state.points || f.data_version !== state.points.data_version) return;  // data changed since
  state.drawn = f;
  if (f.model_version !== state.modelVersion || f.step < lastStep()) {
    state.modelVersion = f.model_version;
    for (const k in state.history) state.history[k] = [];
  }
  if (f.step !== lastStep()) record(f);
  drawOutput(f);
  const sizes = [2, ...f.layers.slice(0, -1).map((l) => l.w.length), f.layers[f.layers.length - 1].w.length];
  const key = sizes.join("-") + "/" + f.unit_grid;
  if (network.key !== key) {
    state.selected = null;
    network.build(sizes, f.unit_grid);
  }
  network.update(f, state.selected);
  showMetrics(f);
  showDetails();
}

function lastStep() {
  const s = state.history.step;
  return s.length ? s[s.length - 1] : -1;
}

function record(f) {
  const h = state.history;
  h.step.push(f.step);
  h.trainLoss.push(f.train_loss);
  h.testLoss.push(f.test_loss);
  h.trainAcc.push(f.train_acc);
  h.testAcc.push(f.test_acc);
  if (h.step.length > MAX_HISTORY) for (const k in h) h[k] = h[k].filter((_, i) => i % 2 === 0);
}

function drawOutput(f) {
  drawRegions($("boundary"), f.grid, state.points, $("show-test").checked);
  const h = state.history;
  drawCurve($("loss-curve"), { step: h.step, train: h.trainLoss, test: h.testLoss }, { label: "loss" });
  drawCurve($("acc-curve"), { step: h.step, train: h.trainAcc, test: h.testAcc }, { label: "accuracy", max: 1 });
}

const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%");
const num = (v, d = 4) => (v === null || v === undefined ? "–" : Number(v).toPrecision(d));

function showMetrics(f) {
  $("step-count").textContent = f.step;
  $("epoch").textContent = f.epoch.toFixed(1);
  $("test-loss").textContent = num(f.test_loss);
  $("train-loss").textContent = num(f.train_loss);
  $("test-acc").textContent = pct(f.test_acc);
  $("test-acc").dataset.value = f.test_acc;
  $("train-acc").textContent = pct(f.train_acc);
  $("train-acc").dataset.value = f.train_acc;
}

// ----- the gradient of what was clicked -----
function showDetails() {
  const f = state.drawn, sel = state.selected, out = $("details");
  if (!f || !sel) return;
  const layer = f.layers[sel.layer];
  if (!layer) return;
  const lr = state.config ? state.config.lr : 0;
  const lam = state.config ? state.config.l2 : 0;
  const last = sel.layer === f.layers.length - 1;
  const rows = [];
  if (sel.kind === "weight") {
    const w = layer.w[sel.out][sel.in], dw = layer.dw[sel.out][sel.in];
    rows.push(`<h3>weight: layer ${sel.layer + 1}, from ${sel.layer ? "unit " + sel.in : "x" + (sel.in + 1)} to ${last ? "class " + sel.out : "unit " + sel.out}</h3>`);
    w.forEach((v, p) => {
      const piece = w.length > 1 ? ` (maxout piece ${p})` : "";
      rows.push(`<p>w${piece} = <b class="w">${num(v)}</b></p>`);
      rows.push(`<p>&part;L/&part;w = <b class="g">${num(dw[p])}</b>
        <span class="note">= data part ${num(dw[p] - 2 * lam * v)} + &lambda; part 2&lambda;w = ${num(2 * lam * v)}</span></p>`);
      rows.push(`<p class="note">plain SGD's next step would move it by &minus;lr &times; gradient = ${num(-lr * dw[p])}</p>`);
    });
  } else {
    const b = layer.b[sel.unit], db = layer.db[sel.unit];
    rows.push(`<h3>${last ? "output " + sel.unit + " (the score of class " + sel.unit + ")" : "unit " + sel.unit + " of hidden layer " + (sel.layer + 1)}</h3>`);
    b.forEach((v, p) => {
      const piece = b.length > 1 ? ` (maxout piece ${p})` : "";
      rows.push(`<p>bias b${piece} = <b class="w">${num(v)}</b>, &part;L/&part;b = <b class="g">${num(db[p])}</b></p>`);
    });
    if (layer.da) {
      rows.push(`<p>&part;L/&part;a, summed over the training points = <b class="g">${num(layer.da[sel.unit])}</b></p>`);
      rows.push(`<p class="note">a is this unit's output; the gradient flows back from every unit it feeds.</p>`);
    }
    const dws = layer.dw[sel.unit].map((ps) => ps.map((v) => num(v, 3)).join("/"));
    rows.push(`<p class="note">&part;L/&part;w of its incoming weights: ${dws.join(", ")}</p>`);
  }
  rows.push(`<p class="note">L = mean data loss over the training set + &lambda; &sum; W&sup2;, at step ${f.step}.</p>`);
  out.innerHTML = rows.join("");
}

// ----- the explanation of one step -----
function showExplanation(msg) {
  $("explain-panel").hidden = false;
  const cls = `<span class="swatch" style="background:${CLASS_COLORS[msg.label]}"></span>`;
  $("explain-head").innerHTML =
    `Training point #${msg.index} at (${msg.x.map((v) => num(v, 3)).join(", ")}), class ${msg.label} ${cls}: ` +
    `${escapeHtml(msg.formula)} = <b>${num(msg.loss)}</b>. Values above the edges, gradients below (red). The weights are not changed.`;
  $("explain-note").textContent = msg.note || "";
  if (msg.svg) {
    $("explain-svg").innerHTML = msg.svg;
    $("explain-dot").hidden = true;
  } else {
    $("explain-svg").replaceChildren();
    $("explain-dot").hidden = false;
    $("explain-dot").textContent = msg.dot;
  }
  $("explain-text").textContent = msg.text;
  $("explain-panel").scrollIntoView({ behavior: "smooth", block: "start" });
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

// ----- messages -----
function showError(text) {
  state.lastError = text;
  $("message-text").textContent = text;
  $("message").hidden = false;
}

$("message-close").addEventListener("click", () => {
  $("message").hidden = true;
});

// ----- the controls -----
function fillChoices(hello) {
  const opts = (id, values, labels = {}) => {
    $(id).replaceChildren(...values.map((v) => new Option(labels[v] || v, v)));
  };
  opts("dataset", hello.choices.dataset, { gaussians: "Gaussian blobs", xor: "XOR" });
  opts("activation", hello.choices.activation, {
    relu: "ReLU", tanh: "tanh", sigmoid: "sigmoid", leaky_relu: "Leaky ReLU (0.1)", elu: "ELU", maxout: "Maxout (2 pieces)",
  });
  opts("loss", hello.choices.loss, { cross_entropy: "softmax cross-entropy", svm: "multiclass SVM" });
  opts("optimizer", hello.choices.optimizer, { sgd: "SGD", momentum: "SGD + momentum 0.9", adam: "Adam", rmsprop: "RMSprop", adagrad: "Adagrad" });
  $("points").max = hello.limits.max_points;
  $("presets").replaceChildren(...Object.keys(hello.presets).map((name) => {
    const b = document.createElement("button");
    b.className = "preset";
    b.textContent = name;
    b.dataset.name = name;
    b.addEventListener("click", () => send({ type: "preset", name }));
    return b;
  }));
}

function showConfig(c) {
  const set = (id, v) => {
    const el = $(id);
    if (document.activeElement !== el || el.type === "range" || el.tagName === "SELECT") el.value = v;
  };
  set("dataset", c.dataset);
  set("classes", c.classes);
  $("classes-out").textContent = c.num_classes;
  set("noise", c.noise);
  $("noise-out").textContent = c.noise.toFixed(2);
  set("points", c.points);
  $("points-out").textContent = c.points;
  set("test-fraction", c.test_fraction);
  $("test-fraction-out").textContent = Math.round(100 * c.test_fraction) + "%";
  set("seed", c.seed);
  for (const [id, key] of [["l2", "l2"], ["lr", "lr"], ["batch-size", "batch_size"]]) {
    $(id).value = c[key];
    $(id).classList.remove("invalid");
  }
  set("activation", c.activation);
  set("loss", c.loss);
  set("optimizer", c.optimizer);
  $("added-count").textContent = c.added.length;
  $("layer-count").textContent = c.hidden.length;
  const layers = $("layers");
  layers.replaceChildren(...c.hidden.map((w, i) => {
    const box = document.createElement("label");
    box.className = "layer";
    box.innerHTML = `layer ${i + 1} <input class="layer-size" type="text" inputmode="numeric" value="${w}" data-index="${i}">`;
    return box;
  }));
  $("add-class").replaceChildren(...Array.from({ length: c.num_classes }, (_, k) => {
    const b = document.createElement("button");
    b.className = "swatch" + (k === state.addClass ? " on" : "");
    b.style.background = CLASS_COLORS[k];
    b.title = `class ${k}`;
    b.dataset.cls = k;
    b.addEventListener("click", () => {
      state.addClass = k;
      showConfig(state.config);
    });
    return b;
  }));
  if (state.addClass >= c.num_classes) state.addClass = 0;
}

// A typed number goes to the server as a number; anything else as typed, so that the server's
// message says what was wrong with it.
function parse(text) {
  const t = String(text).trim();
  return t !== "" && isFinite(Number(t)) ? Number(t) : t;
}

function change(changes) {
  send({ type: "config", config: changes });
}

$("dataset").addEventListener("change", (e) => change({ dataset: e.target.value }));
for (const [id, key] of [["classes", "classes"], ["noise", "noise"], ["points", "points"], ["test-fraction", "test_fraction"]]) {
  $(id).addEventListener("input", (e) => {
    const out = $(id + "-out");
    if (out) out.textContent = key === "test_fraction" ? Math.round(100 * e.target.value) + "%" : e.target.value;
  });
  $(id).addEventListener("change", (e) => change({ [key]: parse(e.target.value) }));
}
for (const [id, key] of [["seed", "seed"], ["l2", "l2"], ["lr", "lr"], ["batch-size", "batch_size"]]) {
  $(id).addEventListener("change", (e) => change({ [key]: parse(e.target.value) }));
  $(id).addEventListener("keydown", (e) => {
    if (e.key === "Enter") e.target.dispatchEvent(new Event("change"));
  });
}
for (const id of ["activation", "loss", "optimizer"]) {
  $(id).addEventListener("change", (e) => change({ [id]: e.target.value }));
}
$("layers").addEventListener("change", (e) => {
  if (!e.target.classList.contains("layer-size")) return;
  const hidden = [...state.config.hidden];
  hidden[Number(e.target.dataset.index)] = parse(e.target.value);
  change({ hidden });
});
$("layers").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && e.target.classList.contains("layer-size")) e.target.dispatchEvent(new Event("change", { bubbles: true }));
});
$("add-layer").addEventListener("click", () => {
  const h = state.config.hidden;
  change({ hidden: [...h, h.length ? h[h.length - 1] : 4] });
});
$("remove-layer").addEventListener("click", () => change({ hidden: state.config.hidden.slice(0, -1) }));
$("clear-added").addEventListener("click", () => change({ added: [] }));
$("show-test").addEventListener("change", () => state.drawn && drawOutput(state.drawn));

$("start").addEventListener("click", () => send({ type: state.running ? "pause" : "start" }));
$("step").addEventListener("click", () => send({ type: "step", n: 1 }));
$("reset").addEventListener("click", () => send({ type: "reset" }));
$("explain").addEventListener("click", () => send({ type: "explain" }));
$("explain-close").addEventListener("click", () => {
  $("explain-panel").hidden = true;
});

$("boundary").addEventListener("click", (e) => {
  if (!state.points) return;
  const canvas = $("boundary");
  const rect = canvas.getBoundingClientRect();
  const px = ((e.clientX - rect.left) / rect.width) * canvas.width;
  const py = ((e.clientY - rect.top) / rect.height) * canvas.height;
  const [x, y] = fromCanvas(canvas, state.points.domain, px, py);
  send({ type: "add_point", x: Math.round(x * 1000) / 1000, y: Math.round(y * 1000) / 1000, label: state.addClass });
});

// ----- the address holds the configuration -----
function writeHash(c) {
  const p = new URLSearchParams();
  for (const k of FIELDS) {
    if (k === "hidden") p.set(k, c.hidden.join(","));
    else if (k === "added") {
      if (c.added.length) p.set(k, c.added.map((q) => q.join(",")).join(";"));
    } else p.set(k, c[k]);
  }
  history.replaceState(null, "", "#" + p.toString());
  $("link").value = location.href;
}

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const out = {};
  for (const [k, v] of p) {
    if (k === "hidden") out.hidden = v === "" ? [] : v.split(",").map(parse);
    else if (k === "added") out.added = v === "" ? [] : v.split(";").map((q) => q.split(",").map(parse));
    else if (["dataset", "activation", "loss", "optimizer"].includes(k)) out[k] = v;
    else out[k] = parse(v);
  }
  return out;
}

window.addEventListener("hashchange", () => {  // an address typed or pasted into this tab
  const changes = readHash();
  if (Object.keys(changes).length) send({ type: "config", config: changes });
});

$("copy-link").addEventListener("click", async () => {
  $("link").select();
  try {
    await navigator.clipboard.writeText($("link").value);
    $("copy-link").textContent = "copied";
  } catch {
    document.execCommand("copy");
  }
});

connect();
