// The demo page: POST the sentence to /v1/explain, draw the emotions as bars and colour each word by its
// dominant sense (opacity grows with the rating, 0-5). Sense colours and the text limit come from GET /v1/labels.
"use strict";

const MAX_RATING = 5;
let senses = {};

const $ = (selector) => document.querySelector(selector);

function setStatus(message, isError = false) {
  const status = $("#status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

// "#4e79a7" and an opacity in [0, 1] -> "rgba(78, 121, 167, 0.5)"
function tint(hex, alpha) {
  const value = parseInt(hex.slice(1), 16);
  return `rgba(${(value >> 16) & 255}, ${(value >> 8) & 255}, ${value & 255}, ${alpha.toFixed(2)})`;
}

function wordOpacity(strength) {
  return 0.2 + 0.8 * Math.min(Math.max(strength / MAX_RATING, 0), 1);
}

function renderLegend() {
  const legend = $("#legend");
  legend.replaceChildren();
  for (const [sense, colour] of Object.entries(senses)) {
    const item = document.createElement("li");
    item.dataset.sense = sense;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour;
    item.append(swatch, sense);
    legend.append(item);
  }
}

function renderEmotions(predictions) {
  const box = $("#emotions");
  box.replaceChildren();
  for (const { label, score } of predictions) {
    const row = document.createElement("div");
    row.className = "bar-row";
    row.dataset.label = label;
    row.dataset.score = String(score);
    const name = document.createElement("span");
    name.className = "label";
    name.textContent = label;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = `${(100 * score).toFixed(1)}%`;
    bar.append(fill);
    const value = document.createElement("span");
    value.className = "score";
    value.textContent = `${(100 * score).toFixed(1)}%`;
    row.append(name, bar, value);
    box.append(row);
  }
}

function wordSpan(text, word) {
  const span = document.createElement("span");
  span.className = "word";
  span.textContent = text;
  span.dataset.source = word.source;
  if (word.sense && senses[word.sense]) {
    span.dataset.sense = word.sense;
    span.dataset.strength = String(word.strength);
    span.style.background = tint(senses[word.sense], wordOpacity(word.strength));
    span.title = `${word.sense} ${word.strength.toFixed(2)} / 5 (${word.source})`;
  } else {
    span.classList.add("no-sense");
    span.title = `no sensory values (${word.source})`;
  }
  return span;
}

// The sentence as typed, each word replaced by a coloured span (punctuation and spaces stay plain text).
function renderSentence(text, words) {
  const sentence = $("#sentence");
  sentence.replaceChildren();
  let cursor = 0;
  for (const word of [...words].sort((a, b) => a.start - b.start)) {
    if (word.start < cursor || word.end <= word.start) continue;
    sentence.append(text.slice(cursor, word.start), wordSpan(text.slice(word.start, word.end), word));
    cursor = word.end;
  }
  sentence.append(text.slice(cursor));
}

function renderTable(words) {
  const body = $("#words tbody");
  body.replaceChildren();
  for (const word of words) {
    const row = document.createElement("tr");
    const cells = [word.word, word.source, word.sense || "–", word.sense ? word.strength.toFixed(2) : "–",
      word.attention === null ? "–" : word.attention.toFixed(3)];
    for (const cell of cells) {
      const td = document.createElement("td");
      td.textContent = cell;
      row.append(td);
    }
    body.append(row);
  }
}

async function analyse(event) {
  event.preventDefault();
  const text = $("#text").value.trim();
  if (!text) {
    setStatus("Type a sentence first.", true);
    return;
  }
  const button = $("#analyse");
  button.disabled = true;
  setStatus("Analysing…");
  try {
    await sensesLoaded;
    const response = await fetch("/v1/explain", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, top_k: 5 }),
    });
    const result = await response.json();
    if (!response.ok) throw new Error(result.error || `HTTP ${response.status}`);
    renderEmotions(result.predictions);
    renderSentence(result.text, result.words);
    renderTable(result.words);
    $("#results").hidden = false;
    setStatus("");
  } catch (error) {
    setStatus(`Could not analyse: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
}

async function loadSenses() {
  try {
    const response = await fetch("/v1/labels");
    const info = await response.json();
    senses = info.senses;
    $("#text").maxLength = info.max_text_length;
    renderLegend();
  } catch (error) {
    setStatus(`Could not reach the server: ${error.message}`, true);
  }
}

const sensesLoaded = loadSenses();
$("#form").addEventListener("submit", analyse);
