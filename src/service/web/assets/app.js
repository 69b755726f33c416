// The swapline page: a client of the public API (/v1/*) and nothing else.
// Media goes straight to the signed upload URLs the API issues (POST /v1/uploads);
// results come from GET /v1/jobs/{id}/result, which redirects to a signed URL.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'swapline.token';  // sessionStorage only: gone when the tab closes
  const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'dead']);
  const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'bmp', 'tif', 'tiff'];
  const VIDEO_EXTENSIONS = ['mp4', 'mov', 'mkv', 'webm', 'avi', 'm4v'];

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    files: {source: null, target: null},  // {key, kind, name} once uploaded
    job: null,                             // the job shown in the result panel
    pollTimer: 0,
    listTimer: 0,
  };

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // --- the API ---

  async function api(method, path, body) {
    const headers = {};
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    const init = {method, headers, cache: 'no-store'};
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'unavailable', 'The server cannot be reached. Is `swapline serve` still running?');
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw errorFrom(response.status, data);
    return data;
  }

  function errorFrom(status, data) {
    const error = data && data.error ? data.error : {};
    return new ApiError(status, error.code || 'http_' + status, error.message || 'HTTP ' + status);
  }

  // PUTs `file` to a signed URL, reporting progress (fetch cannot report uploads).
  function put(url, file, contentType, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', url);
      if (contentType) xhr.setRequestHeader('Content-Type', contentType);
      xhr.upload.addEventListener('progress', (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener('load', () => {
        if (xhr.status >= 200 && xhr.status < 300) return resolve();
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (e) { /* S3 answers XML */ }
        reject(errorFrom(xhr.status, data));
      });
      xhr.addEventListener('error', () => reject(new ApiError(0, 'unavailable',
        'The upload could not reach the storage server (network error, or the store does not allow this page\'s origin).')));
      xhr.send(file);
    });
  }

  // What a person should read for an API or job error.
  function explain(error) {
    const message = error.message || '';
    switch (error.code) {
      case 'no_face':
        return 'No usable face was found in the source photo. Pick a photo where one face is clearly visible. (' + message + ')';
      case 'unsupported_input':
        return 'That file is not an image or video swapline can read. (' + message + ')';
      case 'too_large':
        return 'That file is too large for this server. (' + message + ')';
      case 'unauthenticated':
        return 'The token was not accepted. Enter a valid API token.';
      case 'permission_denied':
        return message;
      default:
        return message || 'Something went wrong (' + error.code + ').';
    }
  }

  // --- sign in ---

  function showToken(message) {
    $('token-panel').hidden = false;
    $('swap-form').hidden = true;
    $('signed-in').hidden = true;
    const error = $('token-error');
    error.hidden = !message;
    error.textContent = message || '';
    $('token').focus();
  }

  function signedIn() {
    $('token-panel').hidden = true;
    $('swap-form').hidden = false;
    $('signed-in').hidden = !state.token;
    $('signed-in-text').textContent = 'Signed in with a token.';
  }

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = $('token').value.trim();
    $('token').value = '';
    sessionStorage.setItem(TOKEN_KEY, state.token);
    start();
  });

  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = '';
    showToken('');
  });

  function banner(message) {
    const b = $('banner');
    b.hidden = !message;
    b.textContent = message || '';
  }

  // --- files ---

  // The kind of a file from its first bytes: 'image', 'video' or '' (unknown).
  async function sniff(file) {
    const b = new Uint8Array(await file.slice(0, 16).arrayBuffer());
    const ascii = (from, to) => String.fromCharCode(...b.slice(from, to));
    if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return ['image', 'jpg'];
    if (ascii(1, 4) === 'PNG' && b[0] === 0x89) return ['image', 'png'];
    if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return ['image', 'webp'];
    if (ascii(0, 2) === 'BM' && b.length >= 14) return ['image', 'bmp'];
    if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return ['image', 'tif'];
    if (['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip'].includes(ascii(4, 8))) return ['video', 'mp4'];
    if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return ['video', 'mkv'];
    if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'AVI ') return ['video', 'avi'];
    return ['', ''];
  }

  // A file name the API accepts whose extension tells its kind (the API reads the
  // kind from the extension; the bytes decide whether it is readable).
  function uploadName(name, kind, extension) {
    let base = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(-100) || 'upload';
    const ext = (base.match(/\.([A-Za-z0-9]+)$/) || [])[1];
    const known = kind === 'image' ? IMAGE_EXTENSIONS : VIDEO_EXTENSIONS;
    if (!ext || !known.includes(ext.toLowerCase())) base += '.' + extension;
    return base;
  }

  function formatBytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(0) + ' KB';
    return (n / 1024 / 1024).toFixed(1) + ' MB';
  }

  async function chooseFile(role, file) {
    const drop = $(role + '-drop');
    const status = drop.querySelector('.status');
    const bar = drop.querySelector('progress');
    const img = drop.querySelector('img.thumb');
    const video = drop.querySelector('video.thumb');
    state.files[role] = null;
    drop.classList.remove('ok', 'bad');
    updateSubmit();
    if (img.src) URL.revokeObjectURL(img.src);
    if (video && video.src) URL.revokeObjectURL(video.src);
    img.hidden = true;
    if (video) video.hidden = true;
    bar.hidden = true;
    const fail = (message) => {
      drop.classList.add('bad');
      status.textContent = message;
      status.classList.add('error');
    };
    status.classList.remove('error');
    const [kind, extension] = await sniff(file);
    if (!kind || (role === 'source' && kind !== 'image')) {
      const wanted = role === 'source' ? 'a photo (JPEG, PNG, WebP, BMP or TIFF)'
        : 'an image (JPEG, PNG, WebP, BMP, TIFF) or a video (MP4, MOV, MKV, WebM, AVI)';
      return fail('Unsupported file: "' + file.name + '" is not ' + wanted + '.');
    }
    if (kind === 'image') {
      img.src = URL.createObjectURL(file);
      img.hidden = false;
    } else if (video) {
      video.src = URL.createObjectURL(file);
      video.hidden = false;
    }
    if (role === 'target') setVideoOptions(kind === 'video');
    status.textContent = 'Uploading ' + file.name + ' (' + formatBytes(file.size) + ')…';
    bar.hidden = false;
    bar.value = 0;
    try {
      const upload = await api('POST', 'v1/uploads', {filename: uploadName(file.name, kind, extension),
        content_type: file.type || undefined});
      await put(upload.url, file, file.type, (fraction) => { bar.value = Math.round(fraction * 100); });
      bar.value = 100;
      state.files[role] = {key: upload.key, kind, name: file.name};
      drop.classList.add('ok');
      status.textContent = file.name + ' (' + formatBytes(file.size) + ') uploaded.';
    } catch (error) {
      bar.hidden = true;
      fail(explain(error));
      if (error.code === 'unauthenticated') showToken(explain(error));
    }
    updateSubmit();
  }

  for (const role of ['source', 'target']) {
    const drop = $(role + '-drop');
    const input = $(role + '-file');
    input.addEventListener('change', () => {
      if (input.files.length > 0) chooseFile(role, input.files[0]);
    });
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      if (e.dataTransfer.files.length > 0) chooseFile(role, e.dataTransfer.files[0]);
    });
  }

  function setVideoOptions(video) {
    $('video-options').disabled = !video;
    $('video-note').textContent = video ? '' : '(for a video target)';
  }

  function updateSubmit() {
    $('submit').disabled = !(state.files.source && state.files.target);
  }

  // --- options ---

  for (const [input, output] of [['mask-blur', 'mask-blur-value'], ['video-quality', 'video-quality-value']]) {
    $(input).addEventListener('input', () => { $(output).textContent = $(input).value; });
  }
  $('selector-mode').addEventListener('change', () => {
    $('reference-options').hidden = $('selector-mode').value !== 'reference';
  });

  function options() {
    const o = {
      'face-selector-mode': $('selector-mode').value,
      'face-selector-order': $('selector-order').value,
      'face-mask-blur': Number($('mask-blur').value),
    };
    const masks = [];
    if ($('mask-box').checked) masks.push('box');
    if ($('mask-area').checked) masks.push('area');
    if (masks.length === 0) throw new ApiError(400, 'invalid_argument', 'Pick at least one mask type.');
    o['face-mask-types'] = masks;
    if (o['face-selector-mode'] === 'reference') {
      o['reference-face-position'] = integer('reference-position', 'Reference face');
      o['face-recognizer-model'] = $('recognizer-model').value.trim();
    }
    if (state.files.target && state.files.target.kind === 'video') {
      o['output-video-quality'] = Number($('video-quality').value);
      o['output-video-preset'] = $('video-preset').value;
      if ($('trim-start').value !== '') o['trim-frame-start'] = integer('trim-start', 'Trim start');
      if ($('trim-end').value !== '') o['trim-frame-end'] = integer('trim-end', 'Trim end');
    }
    return o;
  }

  function integer(id, what) {
    const n = Number($(id).value);
    if (!Number.isInteger(n) || n < 0) throw new ApiError(400, 'invalid_argument', what + ': a whole number from 0.');
    return n;
  }

  $('swap-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const error = $('submit-error');
    error.hidden = true;
    $('submit').disabled = true;
    try {
      const job = await api('POST', 'v1/jobs', {
        sources: [state.files.source.key], target: state.files.target.key, options: options()});
      showJob(job);
      $('job-panel').scrollIntoView({behavior: 'smooth', block: 'start'});
      refreshJobs();
    } catch (err) {
      error.hidden = false;
      error.textContent = explain(err);
    }
    updateSubmit();
  });

  // --- the job ---

  function kindOf(job) {
    const target = (job.spec && job.spec.target) || '';
    const ext = (target.match(/\.([A-Za-z0-9]+)$/) || [])[1] || '';
    return VIDEO_EXTENSIONS.includes(ext.toLowerCase()) ? 'video' : 'image';
  }

  function showJob(job) {
    const changed = !state.job || state.job.id !== job.id;
    const before = changed ? '' : state.job.state;
    state.job = job;
    $('job-panel').hidden = false;
    $('job-id').textContent = job.id;
    const s = $('job-state');
    s.textContent = job.state;
    s.dataset.state = job.state;
    $('job-progress').value = Math.round((job.progress || 0) * 100);
    $('job-message').textContent = describe(job);
    $('cancel').hidden = TERMINAL.has(job.state);
    const error = $('job-error');
    error.hidden = !job.error || job.state === 'cancelled';
    error.textContent = job.error ? explain(job.error) : '';
    if (changed) {
      $('result').hidden = true;
      $('job-panel').dataset.result = '';
    }
    if (job.state === 'succeeded' && (changed || before !== 'succeeded')) showResult(job);
    clearTimeout(state.pollTimer);
    if (!TERMINAL.has(job.state)) state.pollTimer = setTimeout(() => poll(job.id), 1000);
    if (!changed && before !== job.state) refreshJobs();
  }

  function describe(job) {
    const percent = Math.round((job.progress || 0) * 100) + '%';
    switch (job.state) {
      case 'queued': return job.attempts > 0 ? 'Waiting to retry (attempt ' + (job.attempts + 1) + ')…' : 'Waiting for a worker…';
      case 'running': return job.cancel_requested ? 'Cancelling…' : 'Swapping faces… ' + percent;
      case 'succeeded': return 'Done.';
      case 'cancelled': return 'Cancelled.';
      case 'dead': return 'Gave up after ' + job.attempts + ' attempts.';
      default: return 'Failed.';
    }
  }

  async function poll(id) {
    try {
      const job = await api('GET', 'v1/jobs/' + encodeURIComponent(id));
      if (state.job && state.job.id === id) showJob(job);
    } catch (error) {
      $('job-message').textContent = explain(error) + ' Retrying…';
      state.pollTimer = setTimeout(() => poll(id), 3000);
    }
  }

  // The result endpoint redirects to a signed URL; following it gives that URL,
  // which the preview streams from and the download link names.
  async function showResult(job) {
    const headers = state.token ? {Authorization: 'Bearer ' + state.token} : {};
    let url;
    try {
      const response = await fetch('v1/jobs/' + encodeURIComponent(job.id) + '/result', {headers, cache: 'no-store'});
      if (!response.ok) throw errorFrom(response.status, await response.json().catch(() => null));
      url = response.url;
      await response.body.cancel();
    } catch (error) {
      const e = $('job-error');
      e.hidden = false;
      e.textContent = error instanceof ApiError ? explain(error) : 'The result cannot be fetched: ' + error.message;
      return;
    }
    if (!state.job || state.job.id !== job.id) return;
    const video = kindOf(job) === 'video';
    const img = $('result-image');
    const player = $('result-video');
    img.hidden = video;
    player.hidden = !video;
    if (video) {
      img.removeAttribute('src');
      player.src = url;
    } else {
      player.removeAttribute('src');
      img.src = url;
    }
    const ext = (url.split('?')[0].match(/\.([A-Za-z0-9]+)$/) || [])[1] || (video ? 'mp4' : 'png');
    const link = $('download');
    link.href = url;
    link.download = 'swapline-' + job.id + '.' + ext;
    $('result').hidden = false;
    $('job-panel').dataset.result = 'ready';
  }

  $('cancel').addEventListener('click', async () => {
    if (!state.job) return;
    $('cancel').disabled = true;
    try {
      showJob(await api('POST', 'v1/jobs/' + encodeURIComponent(state.job.id) + '/cancel'));
    } catch (error) {
      const e = $('job-error');
      e.hidden = false;
      e.textContent = explain(error);
    }
    $('cancel').disabled = false;
  });

  // --- recent jobs ---

  async function refreshJobs() {
    clearTimeout(state.listTimer);
    try {
      const page = await api('GET', 'v1/jobs?limit=20');
      renderJobs(page.jobs || []);
    } catch (error) {
      if (error.code === 'unauthenticated') return showToken(explain(error));
    }
    state.listTimer = setTimeout(refreshJobs, 5000);
  }

  function renderJobs(jobs) {
    const list = $('jobs');
    list.replaceChildren();
    $('jobs-empty').hidden = jobs.length > 0;
    if (jobs.length > 0) $('signed-in-text').textContent = 'Tenant: ' + jobs[0].tenant;
    for (const job of jobs) {
      const item = document.createElement('li');
      item.dataset.id = job.id;
      const open = document.createElement('button');
      open.type = 'button';
      open.className = 'link job-open';
      open.textContent = kindOf(job) + ' · ' + new Date(job.created).toLocaleString();
      open.setAttribute('aria-label', 'Show job ' + job.id + ' (' + job.state + ')');
      open.addEventListener('click', () => {
        showJob(job);
        poll(job.id);
        $('job-panel').scrollIntoView({behavior: 'smooth', block: 'start'});
      });
      const badge = document.createElement('span');
      badge.className = 'state';
      badge.dataset.state = job.state;
      badge.textContent = job.state + (job.state === 'running' ? ' ' + Math.round(job.progress * 100) + '%' : '');
      const id = document.createElement('code');
      id.textContent = job.id;
      item.append(open, badge, id);
      list.append(item);
    }
  }
  $('jobs-refresh').addEventListener('click', refreshJobs);

  // --- start ---

  // Signed object URLs of a file store name the server's own address; uploads from
  // a page opened under another name would be cross-origin and refused.
  async function checkOrigin() {
    try {
      const doc = await (await fetch('openapi.json')).json();
      const server = new URL(doc.servers[0].url);
      if (server.origin !== location.origin) {
        banner('This server signs its upload links for ' + server.origin + '. Open the page at ' + server.origin +
          '/ (or start `swapline serve` with --public-url ' + location.origin + ').');
      }
    } catch (e) { /* the API calls below report an unreachable server */ }
  }

  async function start() {
    clearTimeout(state.listTimer);
    try {
      const page = await api('GET', 'v1/jobs?limit=20');
      signedIn();
      banner('');
      renderJobs(page.jobs || []);
      state.listTimer = setTimeout(refreshJobs, 5000);
      document.body.dataset.ready = 'true';
    } catch (error) {
      if (error.code === 'unauthenticated') {
        if (state.token) sessionStorage.removeItem(TOKEN_KEY);
        const retry = state.token !== '';
        state.token = '';
        showToken(retry ? explain(error) : '');
      } else {
        banner(explain(error));
      }
      document.body.dataset.ready = 'true';
    }
  }

  checkOrigin();
  start();
})();
