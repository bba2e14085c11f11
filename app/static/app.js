// The drawing page: a 512x512 sketch canvas, the generated face next to it,
// updated while you draw, by DeepFaceDrawing or the sketch embedding (the
// methods /api/info offers), with an appearance: the model's default, a
// random draw ("new appearance") or a reference photo. Plain JavaScript, no
// libraries.
"use strict";

(() => {
  const SIZE = 512;
  const UNDO_LIMIT = 50;         // snapshots of 1 MB each
  const SETTLE_MS = 150;      // after a stroke ends or a setting changes
  const STROKE_MS = 250;      // at least this long between updates during a stroke

  const $ = (id) => document.getElementById(id);
  const sketch = $("sketch");
  const ctx = sketch.getContext("2d", { willReadFrequently: true });
  const shadowImg = $("shadow");
  const resultImg = $("result");
  const boxesCanvas = $("boxes");
  const statusEl = $("status");
  const cursor = $("cursor");
  const DFD = "deepfacedrawing";

  const state = {
    info: null,
    tool: "pen",
    undo: [],
    redo: [],
    drawing: null,          // {id, x, y} while a stroke is under way
    sentSeq: 0,
    shownSeq: 0,
    inflight: null,         // AbortController of the request on its way
    timer: null,
    latency: 400,           // ms, the last round trip (paces updates during strokes)
    resultUrl: null,
    method: DFD,            // the method in use (a name from info.methods)
    look: null,             // the appearance: null (the model's default), {seed} or {ref}
    nextSeed: 1,            // "new appearance" draws this seed next
    refUploads: 0,          // re-uploads of the reference photo after a 410 (bounded)
    session: (crypto.randomUUID ? crypto.randomUUID()
              : String(Math.random()).slice(2) + String(Date.now())),
  };

  // ------------------------------------------------------------ status
  function setStatus(text, kind) {
    statusEl.textContent = text;
    statusEl.classList.toggle("busy", kind === "busy");
    statusEl.classList.toggle("error", kind === "error");
  }

  // ------------------------------------------------------------ settings
  function refineValues() {
    const out = {};
    for (const input of document.querySelectorAll("#refine input[data-part]")) {
      if (input.dataset.part !== "all") out[input.dataset.part] = Number(input.value);
    }
    return out;
  }

  function gender() {
    const checked = document.querySelector('input[name="gender"]:checked');
    return checked ? checked.value : "all";
  }

  function methodInfo(name = state.method) {
    return state.info.methods.find((m) => m.name === name);
  }

  function showValue(input) {
    const out = input.parentElement.querySelector("output");
    if (out) out.textContent = input.step && Number(input.step) < 1
      ? Number(input.value).toFixed(2) : input.value;
  }

  function addPartSliders(info) {
    const box = $("refine");
    for (const part of info.parts) {
      const label = document.createElement("label");
      label.className = "slider";
      const name = document.createElement("span");
      name.textContent = part.name;
      const input = document.createElement("input");
      Object.assign(input, { type: "range", min: 0, max: 1, step: 0.05 });
      input.dataset.part = part.name;
      input.id = "refine-" + part.name;
      input.value = info.defaults.refine[part.name];
      input.setAttribute("aria-label", "refinement of " + part.name);
      const out = document.createElement("output");
      label.append(name, input, out);
      box.append(label);
      showValue(input);
    }
    const values = Object.values(info.defaults.refine);
    const all = $("refine-all");
    all.value = values.every((v) => v === values[0]) ? values[0] : 1;
    showValue(all);
  }

  // ------------------------------------------------------------ canvas
  function snapshot() {
    return ctx.getImageData(0, 0, SIZE, SIZE);
  }

  function pushUndo() {
    state.undo.push(snapshot());
    if (state.undo.length > UNDO_LIMIT) state.undo.shift();
    state.redo = [];
    updateButtons();
  }

  function restore(from, to) {
    if (!from.length) return;
    to.push(snapshot());
    ctx.putImageData(from.pop(), 0, 0);
    updateButtons();
    sketchChanged(SETTLE_MS);
  }

  function updateButtons() {
    $("undo").disabled = !state.undo.length;
    $("redo").disabled = !state.redo.length;
  }

  function canvasPoint(ev) {
    const r = sketch.getBoundingClientRect();
    return { x: (ev.clientX - r.left) * SIZE / r.width, y: (ev.clientY - r.top) * SIZE / r.height };
  }

  function brushWidth(ev) {
    const eraser = state.tool === "eraser";
    const base = Number($(eraser ? "eraser-size" : "pen-size").value);
    // a pen's pressure thins or thickens the line (mouse and touch report 0.5)
    if (!eraser && ev && ev.pointerType === "pen" && ev.pressure > 0) return base * (0.4 + 1.2 * ev.pressure);
    return base;
  }

  function segment(from, to, width) {
    ctx.save();
    ctx.globalCompositeOperation = state.tool === "eraser" ? "destination-out" : "source-over";
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (from.x === to.x && from.y === to.y) {
      ctx.beginPath();
      ctx.arc(to.x, to.y, width / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.beginPath();
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x, to.y);
      ctx.stroke();
    }
    ctx.restore();
  }

  function moveCursor(ev) {
    const r = sketch.getBoundingClientRect();
    const d = brushWidth(ev) * r.width / SIZE;
    cursor.hidden = false;
    cursor.style.width = cursor.style.height = Math.max(d, 4) + "px";
    cursor.style.left = (ev.clientX - r.left) + "px";
    cursor.style.top = (ev.clientY - r.top) + "px";
  }

  sketch.addEventListener("pointerdown", (ev) => {
    if (ev.pointerType === "mouse" && ev.button !== 0) return;
    if (state.drawing) return;                     // a second finger: ignore
    ev.preventDefault();
    sketch.setPointerCapture(ev.pointerId);
    pushUndo();
    const p = canvasPoint(ev);
    state.drawing = { id: ev.pointerId, last: p };
    segment(p, p, brushWidth(ev));
    sketchChanged(null);
  });

  sketch.addEventListener("pointermove", (ev) => {
    moveCursor(ev);
    const d = state.drawing;
    if (!d || d.id !== ev.pointerId) return;
    const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [];
    for (const e of events.length ? events : [ev]) {
      const p = canvasPoint(e);
      segment(d.last, p, brushWidth(e));
      d.last = p;
    }
    sketchChanged(null);
  });

  function endStroke(ev) {
    const d = state.drawing;
    if (!d || d.id !== ev.pointerId) return;
    state.drawing = null;
    sketchChanged(SETTLE_MS);
  }
  sketch.addEventListener("pointerup", endStroke);
  sketch.addEventListener("pointercancel", endStroke);
  sketch.addEventListener("pointerleave", () => { cursor.hidden = true; });

  function setTool(tool) {
    state.tool = tool;
    for (const name of ["pen", "eraser"]) {
      const b = $("tool-" + name);
      b.classList.toggle("active", name === tool);
      b.setAttribute("aria-pressed", String(name === tool));
    }
  }

  // ------------------------------------------------------------ the server
  // Every change asks for a new result after a short pause; during a stroke
  // at most one request per STROKE_MS (or per round trip, when the model is
  // slower). A newer request aborts the one on its way and the server drops
  // requests a newer one from this page has superseded, so the result always
  // follows the latest sketch and nothing piles up.
  function sketchChanged(delay) {
    if (delay === null) {                           // mid-stroke: pace, don't postpone
      if (!state.timer) state.timer = setTimeout(send, Math.max(STROKE_MS, state.latency * 1.2));
      setStatus("Drawing\u2026", "busy");
      return;
    }
    schedule(delay);
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(send, delay);
    if (!state.drawing) setStatus("Updating\u2026", "busy");
  }

  function sketchDataUrl() {
    return sketch.toDataURL("image/png");
  }

  async function send() {
    state.timer = null;
    if (!state.info) return;
    const seq = ++state.sentSeq;
    if (state.inflight) state.inflight.abort();
    const ctrl = new AbortController();
    state.inflight = ctrl;
    const wantShadow = $("show-shadow").checked;
    const body = JSON.stringify({
      sketch: sketchDataUrl(), method: state.method, appearance: appearanceField(),
      k: Number($("k").value), refine: refineValues(),
      gender: gender(), shadow: wantShadow, sketch_norm: $("sketch-norm").checked,
      session: state.session, seq,
    });
    setStatus(state.drawing ? "Drawing\u2026" : "Updating\u2026", "busy");
    const started = performance.now();
    try {
      const response = await fetch("api/convert", {
        method: "POST", headers: { "Content-Type": "application/json" }, body, signal: ctrl.signal,
      });
      const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
      if (seq !== state.sentSeq) return;            // a newer request is on its way
      if (response.status === 409) return;          // superseded on the server
      if (response.status === 410 && state.look && state.look.ref) {
        // the server no longer keeps the reference photo: send it again, then retry
        if (state.refUploads++ < 2 && await resendReference()) schedule(0);
        else setStatus("Error: " + data.error, "error");
        return;
      }
      if (!response.ok) {
        setStatus("Error: " + (data.error || `HTTP ${response.status}`), "error");
        return;
      }
      state.latency = performance.now() - started;
      show(data, seq, wantShadow);
    } catch (err) {
      if (err.name === "AbortError") return;
      if (seq === state.sentSeq) setStatus("The app's server cannot be reached: is draw.py still running?", "error");
    } finally {
      if (state.inflight === ctrl) state.inflight = null;
    }
  }

  function show(data, seq, wantShadow) {
    if (seq <= state.shownSeq) return;
    state.shownSeq = seq;
    state.refUploads = 0;
    resultImg.src = data.image;
    state.resultUrl = data.image;
    resultImg.dataset.version = String(Number(resultImg.dataset.version) + 1);
    $("save-result").disabled = false;
    if (data.shadow) shadowImg.src = data.shadow;
    const m = methodInfo(data.method);
    $("result-method").textContent = m ? `${m.title}, ${data.size}\u00d7${data.size}` : "";
    shadowImg.hidden = !(wantShadow && $("show-shadow").checked);
    const notes = (data.notes || []).length ? " \u2014 " + data.notes.join("; ") : "";
    if (state.drawing) setStatus("Drawing\u2026", "busy");
    else if (state.timer) setStatus("Updating\u2026", "busy");
    else setStatus(`Updated in ${data.seconds.toFixed(2)} s` + notes);
  }

  // ------------------------------------------------------------ load & save
  function download(url, name) {
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
  }

  function saveSketch() {
    const flat = document.createElement("canvas");
    flat.width = flat.height = SIZE;
    const fctx = flat.getContext("2d");
    fctx.fillStyle = "#fff";
    fctx.fillRect(0, 0, SIZE, SIZE);
    fctx.drawImage(sketch, 0, 0);
    flat.toBlob((blob) => {
      const url = URL.createObjectURL(blob);
      download(url, "sketch.png");
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    }, "image/png");
  }

  async function loadFile(file) {
    if (!file || tooLarge(file)) return;
    setStatus(`Loading ${file.name}\u2026`, "busy");
    try {
      const response = await fetch("api/load", {
        method: "POST", headers: { "Content-Type": imageType(file) }, body: file,
      });
      const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
      if (!response.ok) {
        setStatus(`Error: ${file.name}: ${data.error}`, "error");
        return;
      }
      const img = new Image();
      img.onload = () => {
        pushUndo();
        ctx.clearRect(0, 0, SIZE, SIZE);
        ctx.drawImage(img, 0, 0, SIZE, SIZE);
        const notes = data.notes.length ? ` (${data.notes.join("; ")})` : "";
        setStatus(`Loaded ${file.name}${notes}`);
        sketchChanged(0);
      };
      img.onerror = () => setStatus(`Error: ${file.name} could not be drawn`, "error");
      img.src = data.sketch;
    } catch (err) {
      setStatus("The app's server cannot be reached: is draw.py still running?", "error");
    }
  }

  // ------------------------------------------------------------ appearance
  // A reference photo goes to /api/reference once; the server keeps it (a
  // bounded cache) and every conversion names it by its token. When the
  // server has dropped it (410) the page sends the file again.
  function appearanceField() {
    const look = state.look;
    if (!look || !methodInfo().appearance) return null;
    return look.ref ? { reference: look.ref.token } : { seed: look.seed };
  }

  function describeLook(m) {
    const note = m.appearance_note;
    if (!m.appearance) return note.charAt(0).toUpperCase() + note.slice(1) + ".";
    const look = state.look;
    if (look && look.ref) {
      const notes = look.ref.notes.length ? " (its centre square)" : "";
      return `Appearance from ${look.ref.name}${notes}.`;
    }
    if (look) return `Random appearance, seed ${look.seed}.`;
    return m.name === DFD ? "The mean appearance." : "Random appearance, seed 0.";
  }

  function updateAppearance() {
    const m = methodInfo();
    const ok = Boolean(m.appearance);
    const box = $("appearance");
    box.classList.toggle("disabled", !ok);
    const why = ok ? "" : `Not available: ${m.appearance_note}`;
    box.title = why;
    $("new-appearance").disabled = !ok;
    $("new-appearance").title = ok ? "A new random appearance (N)" : why;
    $("ref-file").disabled = !ok;
    $("ref-pick").title = ok ? "Load a reference photo: the face takes its appearance" : why;
    const ref = state.look && state.look.ref;
    const thumb = $("ref-thumb");
    if (ref) thumb.src = ref.thumbnail;
    else thumb.removeAttribute("src");
    thumb.hidden = !ref;
    $("ref-empty").hidden = Boolean(ref);
    $("ref-slot").classList.toggle("filled", Boolean(ref));
    $("ref-remove").hidden = !ref;
    $("ref-remove").disabled = !ok;
    $("appearance-state").textContent = describeLook(m);
  }

  function newAppearance() {
    if (!methodInfo().appearance) return;
    state.look = { seed: state.nextSeed++ };
    updateAppearance();
    schedule(0);
  }

  function imageType(file) {
    // The server takes image/* or application/octet-stream only (types a page of another
    // site cannot send without a preflight); a file the browser has no type for has none.
    return /^image\/[a-z0-9.+-]+$/i.test(file.type) ? file.type : "application/octet-stream";
  }

  function tooLarge(file) {
    const limit = state.info ? state.info.max_upload_bytes : Infinity;
    if (file.size <= limit) return false;
    setStatus(`Error: ${file.name} is too large (${(file.size / 1048576).toFixed(1)} MB; ` +
              `the limit is ${(limit / 1048576).toFixed(0)} MB)`, "error");
    return true;
  }

  async function uploadReference(file) {
    const response = await fetch("api/reference", {
      method: "POST", headers: { "Content-Type": imageType(file) }, body: file,
    });
    const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) throw new Error(`${file.name}: ${data.error || "HTTP " + response.status}`);
    return data;
  }

  async function loadReference(file) {
    if (!file || tooLarge(file)) return;
    setStatus(`Loading ${file.name}\u2026`, "busy");
    try {
      const data = await uploadReference(file);
      state.look = { ref: { token: data.token, thumbnail: data.thumbnail, notes: data.notes,
                            name: file.name, file } };
      updateAppearance();
      schedule(0);
    } catch (err) {
      setStatus(err instanceof TypeError
        ? "The app's server cannot be reached: is draw.py still running?"
        : "Error: " + err.message, "error");
    }
  }

  async function resendReference() {
    const ref = state.look && state.look.ref;
    if (!ref) return false;
    try {
      const data = await uploadReference(ref.file);
      ref.token = data.token;
      return true;
    } catch (err) {
      return false;
    }
  }

  function removeReference() {
    state.look = null;
    updateAppearance();
    schedule(0);
  }

  // ------------------------------------------------------------ methods
  function addMethods(info) {
    const box = $("methods");
    for (const m of info.methods) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      Object.assign(input, { type: "radio", name: "method", value: m.name });
      input.id = "method-" + m.name;
      input.disabled = !m.available;
      label.title = m.available ? m.model : `Not available: ${m.reason}`;
      label.classList.toggle("disabled", !m.available);
      label.append(input, " " + m.title);
      box.append(label);
      input.addEventListener("change", () => selectMethod(m.name, true));
    }
  }

  function selectMethod(name, fromUser) {
    state.method = name;
    const m = methodInfo();
    for (const input of document.querySelectorAll('input[name="method"]')) {
      input.checked = input.value === name;
    }
    document.body.dataset.method = name;
    $("model").textContent = m.model;
    $("method-hint").textContent = name === DFD
      ? "Component embedding, projection onto faces the model has seen, synthesis."
      : "Stroke labels, pSp encoders, a StyleGAN2 generator.";
    $("dfd-settings").hidden = !m.settings.length;
    $("shadow-label").textContent = name === DFD ? "Shadow guidance" : "Stroke labels";
    $("shadow-toggle").title = m.shadow;
    shadowImg.removeAttribute("src");              // the other method's: it does not fit
    updateAppearance();
    if (fromUser) schedule(0);
  }

  // ------------------------------------------------------------ overlays
  function drawBoxes(parts) {
    const c = boxesCanvas.getContext("2d");
    const colors = { eye1: "#2f6db5", eye2: "#2f6db5", nose: "#2e8b57", mouth: "#b5542f" };
    c.clearRect(0, 0, SIZE, SIZE);
    c.font = "12px system-ui, sans-serif";
    c.textBaseline = "top";
    for (const part of parts) {
      const [x, y, s] = part.box;
      if (s >= SIZE) continue;                      // the remainder is the whole face
      const color = colors[part.name] || "#777";
      c.globalAlpha = 0.55;
      c.strokeStyle = color;
      c.lineWidth = 1.5;
      c.setLineDash([6, 4]);
      c.strokeRect(x + 0.5, y + 0.5, s - 1, s - 1);
      c.globalAlpha = 0.7;
      c.fillStyle = color;
      c.fillText(part.name, x + 4, y + 3);
    }
    c.globalAlpha = 1;
  }

  // ------------------------------------------------------------ wiring
  function wire() {
    $("tool-pen").addEventListener("click", () => setTool("pen"));
    $("tool-eraser").addEventListener("click", () => setTool("eraser"));
    for (const id of ["pen-size", "eraser-size"]) {
      $(id).addEventListener("input", (ev) => {
        $(id + "-value").textContent = ev.target.value;
        setTool(id === "pen-size" ? "pen" : "eraser");
      });
    }
    $("undo").addEventListener("click", () => restore(state.undo, state.redo));
    $("redo").addEventListener("click", () => restore(state.redo, state.undo));
    $("clear").addEventListener("click", () => {
      pushUndo();
      ctx.clearRect(0, 0, SIZE, SIZE);
      sketchChanged(0);
    });
    $("load-file").addEventListener("change", (ev) => {
      loadFile(ev.target.files[0]);
      ev.target.value = "";
    });
    $("save-sketch").addEventListener("click", saveSketch);
    $("ref-file").addEventListener("change", (ev) => {
      loadReference(ev.target.files[0]);
      ev.target.value = "";
    });
    $("ref-remove").addEventListener("click", removeReference);
    $("new-appearance").addEventListener("click", newAppearance);
    $("save-result").addEventListener("click", () => {
      if (state.resultUrl) download(state.resultUrl, "face.png");
    });

    $("show-shadow").addEventListener("change", (ev) => {
      shadowImg.hidden = !ev.target.checked;
      if (ev.target.checked) schedule(0);           // shadows are only computed when shown
    });
    $("shadow-opacity").addEventListener("input", (ev) => {
      document.documentElement.style.setProperty("--shadow-opacity", String(ev.target.value / 100));
    });
    $("show-boxes").addEventListener("change", (ev) => { boxesCanvas.hidden = !ev.target.checked; });

    $("refine").addEventListener("input", (ev) => {
      const input = ev.target;
      if (input.dataset.part === "all") {
        for (const other of document.querySelectorAll("#refine input[data-part]")) {
          other.value = input.value;
          showValue(other);
        }
      } else {
        showValue(input);
      }
      schedule(SETTLE_MS);
    });
    $("k").addEventListener("input", (ev) => {
      $("k-value").textContent = ev.target.value;
      schedule(SETTLE_MS);
    });
    for (const radio of document.querySelectorAll('input[name="gender"]')) {
      radio.addEventListener("change", () => schedule(0));
    }
    $("sketch-norm").addEventListener("change", () => schedule(0));

    document.addEventListener("keydown", (ev) => {
      if (ev.target instanceof HTMLInputElement && ev.target.type !== "range"
          && ev.target.type !== "checkbox" && ev.target.type !== "radio") return;
      const key = ev.key.toLowerCase();
      if ((ev.ctrlKey || ev.metaKey) && key === "z") {
        ev.preventDefault();
        restore(ev.shiftKey ? state.redo : state.undo, ev.shiftKey ? state.undo : state.redo);
      } else if ((ev.ctrlKey || ev.metaKey) && key === "y") {
        ev.preventDefault();
        restore(state.redo, state.undo);
      } else if (ev.ctrlKey || ev.metaKey || ev.altKey) {
        return;
      } else if (key === "p" || key === "b") {
        setTool("pen");
      } else if (key === "e") {
        setTool("eraser");
      } else if (key === "n") {
        newAppearance();
      } else if (key === "[" || key === "]") {
        const input = $(state.tool === "eraser" ? "eraser-size" : "pen-size");
        const step = state.tool === "eraser" ? 4 : 1;
        input.value = Number(input.value) + (key === "]" ? step : -step);
        input.dispatchEvent(new Event("input"));
      }
    });
  }

  async function start() {
    wire();
    updateButtons();
    try {
      const response = await fetch("api/info");
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      state.info = await response.json();
    } catch (err) {
      setStatus("Cannot reach the app's server (" + err.message + "): is draw.py running?", "error");
      return;
    }
    const info = state.info;
    addMethods(info);
    addPartSliders(info);
    const k = $("k");
    k.max = String(Math.min(info.k_max, 100));
    k.value = String(info.defaults.k);
    $("k-value").textContent = k.value;
    for (const radio of document.querySelectorAll('input[name="gender"]')) {
      radio.checked = radio.value === info.defaults.gender;
    }
    $("sketch-norm").checked = info.defaults.sketch_norm;
    drawBoxes(info.parts);
    selectMethod(info.default_method, false);
    document.body.dataset.ready = "true";
    setStatus("Draw a face on the left; the face on the right follows.");
    send();                                          // the empty sketch: an average face and its shadow
  }

  start();
})();
