// The demo page: POST the sentence to /v1/explain, draw the emotions as bars, shade each word by its signed
// Integrated Gradients contribution to the explained emotion (diverging blue-orange scale), and on hover, focus or
// click show the word's breakdown: its sensory part, sense by sense. Colours, labels and the text limit come from
// GET /v1/labels.
"use strict";

let senses = {};
let contributionColours = { positive: "#2166ac", negative: "#b35806" };

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

// A contribution as a share of the text's largest (in [-1, 1]) -> its background: white at 0, the positive or
// negative colour at full strength at +-1.
function contributionShade(share) {
  const colour = share >= 0 ? contributionColours.positive : contributionColours.negative;
  return tint(colour, Math.min(Math.abs(share), 1));
}

const signed = (value) => `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(4)}`;

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

function wordSpan(text, word, scale) {
  const span = document.createElement("span");
  span.className = "word";
  span.tabIndex = 0;
  span.textContent = text;
  span.dataset.source = word.source;
  span.dataset.contribution = String(word.contribution);
  span.style.background = contributionShade(word.contribution / scale);
  if (Math.abs(word.contribution / scale) > 0.6) span.style.color = "#fff";  // legible on the darkest shades
  span.title = `${signed(word.contribution)} (sensory part ${signed(word.sensory_contribution)}; ${word.source})`;
  const show = () => renderBreakdown(text, word);
  span.addEventListener("mouseenter", show);
  span.addEventListener("focus", show);
  span.addEventListener("click", show);
  return span;
}

// One word's breakdown: its total contribution, the part through its sensory vector, and that part per sense as
// signed bars in the sense's colour (scaled to the word's largest sense).
function renderBreakdown(text, word) {
  const box = $("#breakdown");
  box.replaceChildren();
  box.dataset.word = text;
  const title = document.createElement("p");
  title.className = "breakdown-title";
  title.textContent = `“${text}”: ${signed(word.contribution)} in all, ${signed(word.sensory_contribution)} through `
    + `its sensory vector (found as ${word.source})`;
  box.append(title);
  const entries = Object.entries(word.senses);
  const largest = Math.max(...entries.map(([, value]) => Math.abs(value)), 1e-12);
  for (const [sense, value] of entries) {
    const row = document.createElement("div");
    row.className = "sense-row";
    row.dataset.sense = sense;
    row.dataset.value = String(value);
    const name = document.createElement("span");
    name.textContent = sense;
    const track = document.createElement("div");
    track.className = "sense-track";
    const fill = document.createElement("div");
    fill.className = value >= 0 ? "sense-fill positive" : "sense-fill negative";
    fill.style.width = `${(50 * Math.abs(value) / largest).toFixed(1)}%`;
    fill.style.background = senses[sense] || "#8c959f";
    track.append(fill);
    const number = document.createElement("span");
    number.className = "score";
    number.textContent = signed(value);
    row.append(name, track, number);
    box.append(row);
  }
  box.hidden = false;
}

// The sentence as typed, each word replaced by a coloured span (punctuation and spaces stay plain text).
function renderSentence(text, words) {
  const sentence = $("#sentence");
  sentence.replaceChildren();
  const scale = Math.max(...words.map((word) => Math.abs(word.contribution)), 0) || 1;
  let cursor = 0;
  for (const word of [...words].sort((a, b) => a.start - b.start)) {
    if (word.start < cursor || word.end <= word.start) continue;
    sentence.append(text.slice(cursor, word.start), wordSpan(text.slice(word.start, word.end), word, scale));
    cursor = word.end;
  }
  sentence.append(text.slice(cursor));
}

function renderTable(words) {
  const body = $("#words tbody");
  body.replaceChildren();
  for (const word of words) {
    const row = document.createElement("tr");
    const cells = [word.word, signed(word.contribution), signed(word.sensory_contribution), word.source,
      word.sense ? `${word.sense} ${word.strength.toFixed(2)}` : "–"];
    for (const cell of cells) {
      const td = document.createElement("td");
      td.textContent = cell;
      row.append(td);
    }
    body.append(row);
  }
}

function renderExplained(explained) {
  $("#explained").textContent = `Explaining ${explained.label}: ${explained.output} `
    + `${explained.score.toFixed(3)} against ${explained.baseline_score.toFixed(3)} for the baseline `
    + `(Integrated Gradients, ${explained.n_steps} steps, delta ${explained.delta.toExponential(1)}).`;
  $("#towards").textContent = `towards ${explained.label}`;
  $("#against").textContent = `against ${explained.label}`;
}

function renderLabelChoice(labels) {
  const select = $("#label");
  for (const label of labels) {
    const option = document.createElement("option");
    option.value = label;
    option.textContent = label;
    select.append(option);
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
    const label = $("#label").value || null;
    const response = await fetch("/v1/explain", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, top_k: 5, label }),
    });
    const result = await response.json();
    if (!response.ok) throw new Error(result.error || `HTTP ${response.status}`);
    renderEmotions(result.predictions);
    renderExplained(result.explained);
    $("#breakdown").hidden = true;
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
    contributionColours = info.contribution_colours;
    $("#text").maxLength = info.max_text_length;
    $("#towards-swatch").style.background = contributionColours.positive;
    $("#against-swatch").style.background = contributionColours.negative;
    renderLabelChoice(info.labels);
    renderLegend();
  } catch (error) {
    setStatus(`Could not reach the server: ${error.message}`, true);
  }
}

const sensesLoaded = loadSenses();
$("#form").addEventListener("submit", analyse);
