// aum serve page: upload or record audio, POST /predict, show labels, spectrogram and timeline. No dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#3a7bd5", "#e4572e", "#29a35a", "#f3a712", "#8e44ad"];

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function loadInfo() {
  try {
    const info = await (await fetch("/info")).json();
    $("model-info").textContent = `${info.model}: ${info.labels.length} labels, ` +
      `${info.frontend.sample_rate} Hz, uploads up to ${info.max_upload_mb} MB`;
  } catch (e) {
    $("model-info").textContent = "model information unavailable";
  }
}

async function predict(blob, name) {
  showError("");
  $("status").textContent = `classifying ${name}…`;
  const form = new FormData();
  form.append("file", blob, name);
  let response, body;
  try {
    response = await fetch("/predict", { method: "POST", body: form });
    body = await response.json();
  } catch (e) {
    $("status").textContent = "";
    showError(`request failed: ${e}`);
    return;
  }
  $("status").textContent = "";
  if (!response.ok) {
    showError(`error ${response.status}: ${body.detail || response.statusText}`);
    return;
  }
  render(body);
}

function render(result) {
  $("results").hidden = false;
  $("clip-info").textContent = `(${result.file}, ${result.duration_s.toFixed(2)} s)`;
  const list = $("labels");
  list.replaceChildren();
  for (const { label, score } of result.top) {
    const item = document.createElement("li");
    item.dataset.label = label;
    item.dataset.score = score;
    const name = document.createElement("span");
    name.className = "label";
    name.textContent = label;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.round(score * 300)}px`;
    const value = document.createElement("span");
    value.className = "score";
    value.textContent = score.toFixed(3);
    item.append(name, bar, value);
    list.append(item);
  }
  drawSpectrogram(result.spectrogram);
  drawTimeline(result.timeline);
}

function drawSpectrogram(spec) {
  const canvas = $("spectrogram");
  canvas.width = spec.width;
  canvas.height = spec.height;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(spec.width, spec.height);
  for (let i = 0; i < spec.values.length; i++) {  // a dark-blue-to-yellow ramp
    const v = spec.values[i] / 255;
    image.data[4 * i] = Math.round(255 * Math.min(1, 1.8 * v));
    image.data[4 * i + 1] = Math.round(255 * v * v);
    image.data[4 * i + 2] = Math.round(255 * (0.35 + 0.4 * v) * (1 - v));
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

function drawTimeline(timeline) {
  $("timeline-section").hidden = !timeline;
  if (!timeline) return;
  const canvas = $("timeline");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  const centres = timeline.starts_s.map((s) => s + timeline.window_s / 2);
  const end = centres[centres.length - 1] + timeline.window_s / 2;
  const x = (t) => pad + (w - 2 * pad) * (t / end);
  const y = (v) => h - pad - (h - 2 * pad) * v;
  ctx.strokeStyle = "#999";
  ctx.strokeRect(pad, pad, w - 2 * pad, h - 2 * pad);
  ctx.fillStyle = "#444";
  ctx.font = "12px sans-serif";
  ctx.fillText("0 s", pad, h - 8);
  ctx.fillText(`${end.toFixed(1)} s`, w - pad - 30, h - 8);
  ctx.fillText("1", 8, pad + 4);
  ctx.fillText("0", 8, h - pad);
  const legend = $("timeline-legend");
  legend.replaceChildren();
  timeline.labels.forEach((label, k) => {
    ctx.strokeStyle = COLORS[k % COLORS.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    timeline.scores[k].forEach((v, i) => (i ? ctx.lineTo(x(centres[i]), y(v)) : ctx.moveTo(x(centres[i]), y(v))));
    ctx.stroke();
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.style.background = COLORS[k % COLORS.length];
    item.append(swatch, label);
    legend.append(item);
  });
}

// ---- microphone: raw PCM through the Web Audio API, encoded as a 16-bit WAV in the page ----
let recording = null;

function encodeWav(chunks, rate) {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const buffer = new ArrayBuffer(44 + 2 * length);
  const view = new DataView(buffer);
  const text = (offset, s) => [...s].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * length, true); text(8, "WAVE"); text(12, "fmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * length, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (const sample of chunk) {
      view.setInt16(offset, Math.max(-1, Math.min(1, sample)) * 0x7fff, true);
      offset += 2;
    }
  }
  return new Blob([buffer], { type: "audio/wav" });
}

async function toggleRecording() {
  if (recording) {
    const { context, stream, chunks } = recording;
    recording = null;
    stream.getTracks().forEach((t) => t.stop());
    await context.close();
    $("record").textContent = "Record from microphone";
    $("record-status").textContent = "";
    predict(encodeWav(chunks, context.sampleRate), "recording.wav");
    return;
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("this browser gives no microphone access here (it needs localhost or https)");
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const context = new AudioContext();
    const source = context.createMediaStreamSource(stream);
    const processor = context.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    processor.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    source.connect(processor);
    processor.connect(context.destination);
    recording = { context, stream, chunks };
    $("record").textContent = "Stop and classify";
    $("record-status").textContent = "recording…";
  } catch (e) {
    showError(`microphone unavailable: ${e.message || e}`);
  }
}

$("upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) {
    showError("choose an audio file first");
    return;
  }
  predict(file, file.name);
});
$("file").addEventListener("change", () => $("file").files[0] && predict($("file").files[0], $("file").files[0].name));
$("record").addEventListener("click", toggleRecording);
loadInfo();
