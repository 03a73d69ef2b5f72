// The translation page (GET /): plain JavaScript run as it is, no build step and nothing fetched
// from elsewhere. It uses the public API only: GET /v1/model and GET /v1/languages (both answer
// while the model loads), GET /ready (polled until the model is in) and POST /v1/translate.

const $ = (id) => document.getElementById(id);
const form = $('translate-form');
const sourceSelect = $('source');
const targetSelect = $('target');
const textInput = $('text');
const output = $('output');
const translateButton = $('translate');
const copyButton = $('copy');
const swapButton = $('swap');
const statusLine = $('status');
const detectedNote = $('detected');
const apiKeyRow = $('api-key-row');
const apiKeyInput = $('api-key');
const autoOption = sourceSelect.options[0];

const state = {
  languagesLoaded: false,
  ready: false,
  busy: false,
  /** The source the server detected for the last translation (code), when source was auto. */
  detected: null,
  names: new Map(),
  apiKey: load('apiKey') ?? '',
  readyTimer: 0,
};

function load(key) {
  try {
    return localStorage.getItem(`xalma.${key}`);
  } catch {
    return null; // storage disabled: the page works, it just forgets
  }
}

function save(key, value) {
  try {
    localStorage.setItem(`xalma.${key}`, value);
  } catch {
    // storage disabled (see load)
  }
}

function setStatus(text, isError = false) {
  // Same text again is not re-announced by screen readers, and no churn while polling.
  if (statusLine.textContent !== text) statusLine.textContent = text;
  statusLine.classList.toggle('error', isError);
}

function updateButtons() {
  translateButton.disabled = !state.ready || !state.languagesLoaded || state.busy;
  copyButton.disabled = output.textContent === '';
  swapButton.disabled = sourceSelect.value === 'auto' && state.detected === null;
}

class ApiError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code;
    this.details = error?.details;
  }
}

async function api(path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (state.apiKey) headers.authorization = `Bearer ${state.apiKey}`;
  const response = await fetch(path, body === undefined ? { headers } : { method: 'POST', headers, body: JSON.stringify(body) });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data?.error);
  return data;
}

/** A 401 API_KEY_INVALID: ask for a key (kept in this browser) and say so. */
function askForKey(err) {
  if (err.code !== 'API_KEY_INVALID') return false;
  apiKeyRow.hidden = false;
  setStatus(state.apiKey ? 'The API key was refused: check it.' : 'This server needs an API key: enter it below.', true);
  apiKeyInput.focus();
  return true;
}

function showModel(model) {
  $('model-name').textContent = model.name;
  $('demo-banner').hidden = !model.demo;
}

function fillLanguages(languages) {
  const sorted = [...languages].sort((a, b) => a.name.localeCompare(b.name, 'en'));
  state.names = new Map(sorted.map((l) => [l.code, l.name]));
  const options = () => sorted.map((l) => new Option(`${l.name} (${l.code})`, l.code));
  sourceSelect.replaceChildren(autoOption, ...options());
  targetSelect.replaceChildren(...options());
  const savedSource = load('source');
  sourceSelect.value = savedSource && state.names.has(savedSource) ? savedSource : 'auto';
  const browser = (navigator.language || '').slice(0, 2).toLowerCase();
  const savedTarget = load('target');
  targetSelect.value = [savedTarget, browser !== 'en' ? browser : null, 'de', sorted[0]?.code].find((c) => c && state.names.has(c));
  state.languagesLoaded = true;
}

async function connect() {
  try {
    const [model, catalog] = await Promise.all([api('/v1/model'), api('/v1/languages')]);
    showModel(model);
    fillLanguages(catalog.languages);
  } catch (err) {
    if (askForKey(err)) return;
    setStatus(`Cannot reach the server (${err.message}); retrying…`, true);
    setTimeout(connect, 3000);
    return;
  }
  apiKeyRow.hidden = !state.apiKey;
  updateButtons();
  await pollReady();
}

/** Polls GET /ready until the model is loaded and warm; meanwhile the page says what is loading. */
async function pollReady() {
  clearTimeout(state.readyTimer);
  let again = 1;
  try {
    const response = await fetch('/ready');
    const body = await response.json().catch(() => null);
    state.ready = response.ok;
    if (response.ok) {
      setStatus('Ready.');
      updateButtons();
      return;
    }
    const error = body?.error;
    if (error?.code === 'NOT_READY') {
      const loading = error.details?.loading;
      setStatus(`Loading the model${loading ? ` (still loading: ${loading.join(', ')})` : ''}… Translate is enabled once it is ready.`);
    } else {
      setStatus(`The server is not ready: ${error?.message ?? `HTTP ${response.status}`}`, true);
    }
    // Retry-After in seconds, within 1-5 s.
    again = Math.min(5, Math.max(1, Number(response.headers.get('retry-after')) || 1));
  } catch (err) {
    state.ready = false;
    setStatus(`Cannot reach the server (${err.message}); retrying…`, true);
    again = 3;
  }
  updateButtons();
  state.readyTimer = setTimeout(pollReady, again * 1000);
}

function showSource(source) {
  const name = (code) => state.names.get(code) ?? code;
  state.detected = source.detected ? source.language : null;
  autoOption.textContent = source.detected ? `Detect language (${name(source.language)})` : 'Detect language';
  if (source.detected) {
    const confidence = typeof source.confidence === 'number' ? ` (${Math.round(source.confidence * 100)}% confidence)` : '';
    detectedNote.textContent = `Detected language: ${name(source.language)}${confidence}`;
  } else if (source.mismatch?.detected) {
    detectedNote.textContent = `The text looks like ${name(source.mismatch.detected)}.`;
  } else {
    detectedNote.textContent = '';
  }
}

async function translate(event) {
  event.preventDefault();
  if (translateButton.disabled) return;
  const text = textInput.value;
  if (text.trim() === '') {
    setStatus('Type some text to translate first.');
    textInput.focus();
    return;
  }
  state.busy = true;
  updateButtons();
  setStatus('Translating…');
  try {
    const result = await api('/v1/translate', { text, source: sourceSelect.value, target: targetSelect.value });
    const [translation] = result.translations;
    // An item that failed on its own carries its error in place of a text.
    if (translation.error) throw new ApiError(200, translation.error);
    showModel(result.model);
    output.textContent = translation.text;
    showSource(translation.source);
    setStatus(result.model.demo ? 'Done: demo model, so this is not a translation.' : 'Done.');
  } catch (err) {
    if (askForKey(err)) return;
    if (err.code === 'NOT_READY') {
      state.ready = false;
      void pollReady();
      return;
    }
    setStatus(err.message, true);
  } finally {
    state.busy = false;
    updateButtons();
  }
}

/** navigator.clipboard needs a secure context (https or localhost); elsewhere, the old way. */
async function copyOutput() {
  const text = output.textContent;
  const note = $('copied');
  try {
    if (!navigator.clipboard) throw new Error('no clipboard API');
    await navigator.clipboard.writeText(text);
  } catch {
    const scratch = document.createElement('textarea');
    scratch.value = text;
    scratch.setAttribute('readonly', '');
    scratch.style.position = 'fixed';
    scratch.style.opacity = '0';
    document.body.append(scratch);
    scratch.select();
    const copied = document.execCommand('copy');
    scratch.remove();
    if (!copied) {
      note.textContent = 'Copy failed: select the translation and copy it by hand.';
      return;
    }
  }
  note.textContent = 'Copied.';
  setTimeout(() => (note.textContent = ''), 2000);
}

function swapLanguages() {
  const from = sourceSelect.value === 'auto' ? state.detected : sourceSelect.value;
  if (!from) return;
  sourceSelect.value = targetSelect.value;
  targetSelect.value = from;
  if (output.textContent !== '') {
    textInput.value = output.textContent;
    output.textContent = '';
  }
  state.detected = null;
  showSource({ detected: false });
  save('source', sourceSelect.value);
  save('target', targetSelect.value);
  updateButtons();
}

form.addEventListener('submit', translate);
copyButton.addEventListener('click', copyOutput);
swapButton.addEventListener('click', swapLanguages);
sourceSelect.addEventListener('change', () => {
  save('source', sourceSelect.value);
  updateButtons();
});
targetSelect.addEventListener('change', () => save('target', targetSelect.value));
textInput.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) form.requestSubmit();
});
apiKeyInput.value = state.apiKey;
apiKeyInput.addEventListener('change', () => {
  state.apiKey = apiKeyInput.value.trim();
  save('apiKey', state.apiKey);
  void connect();
});

void connect();
