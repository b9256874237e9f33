// The landing page itself: one HTML document with its CSS and a few lines of plain JavaScript,
// no framework and no build step. The script sends the chosen or dropped file as the raw body
// of `POST upload` with the page's token, and shows the answer built with textContent only, so
// nothing the server or the file says is ever parsed as HTML.

export interface PageOptions {
  /** The per-process token uploads must carry. */
  token: string;
  /** A fresh nonce for this response; the Content-Security-Policy allows only it. */
  nonce: string;
  /** Largest upload, in bytes. */
  maxBytes: number;
  /** The `Host` the page was asked under, for the curl example. Already checked. */
  host: string;
}

/** `&`, `<`, `>`, `"` and `'` as entities, for text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The Content-Security-Policy of the page: nothing but its own nonce'd style and script. */
export function pagePolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

const style = `
:root {
  color-scheme: light dark;
  --bg: #f4f5f7; --card: #fff; --ink: #1c2430; --muted: #5b6675; --line: #d5dae1;
  --accent: #2456c8; --accent-soft: #e7eefc; --ok: #1d7a46; --ok-soft: #e5f5ec;
  --bad: #b3261e; --bad-soft: #fdecea;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #11151b; --card: #1a2029; --ink: #e6e9ee; --muted: #9aa4b2; --line: #2e3744;
    --accent: #7aa2ff; --accent-soft: #1d2a44; --ok: #6fd39a; --ok-soft: #15291f;
    --bad: #ff8a80; --bad-soft: #35191a;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
main { max-width: 40rem; margin: 0 auto; padding: 1.25rem 1rem 2rem; }
header h1 { font-size: 1.4rem; margin: 0.5rem 0 0; letter-spacing: -0.01em; }
header p { margin: 0.25rem 0 1.25rem; color: var(--muted); }
code, .mono {
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.9em;
}
.zone {
  display: block; background: var(--card); border: 2px dashed var(--line); border-radius: 14px;
  padding: 2rem 1.25rem; text-align: center; cursor: pointer;
  transition: border-color 0.15s, background 0.15s;
}
.zone:hover, .zone.over, .zone:focus-within {
  border-color: var(--accent); background: var(--accent-soft);
}
.zone .big { font-size: 1.15rem; font-weight: 600; margin: 0 0 0.75rem; }
.zone .hint { color: var(--muted); font-size: 0.9rem; margin: 0.9rem 0 0; }
.button {
  display: inline-block; cursor: pointer; background: var(--accent); color: #fff;
  border-radius: 999px;  padding: 0.6rem 1.3rem; font-weight: 600; min-height: 44px;
}
@media (prefers-color-scheme: dark) { .button { color: #0b1020; } }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap;
}
#status { min-height: 1.5rem; margin: 1rem 0 0.5rem; color: var(--muted); }
.card {
  background: var(--card); border: 1px solid var(--line); border-left-width: 5px;
  border-radius: 12px; padding: 1rem 1.1rem; margin-top: 0.5rem;
}
.card.ok { border-left-color: var(--ok); }
.card.bad { border-left-color: var(--bad); }
.card h2 { font-size: 1.05rem; margin: 0 0 0.6rem; }
.card.ok h2 { color: var(--ok); }
.card.bad h2 { color: var(--bad); }
.card h3 { font-size: 0.95rem; margin: 1rem 0 0.4rem; color: var(--muted); font-weight: 600; }
dl { display: grid; grid-template-columns: 8.5rem 1fr; gap: 0.3rem 1rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.where { font-weight: 600; }
.reason { margin: 0.4rem 0 0; overflow-wrap: anywhere; }
.note { color: var(--muted); font-size: 0.9rem; margin: 0.8rem 0 0; }
@media (max-width: 30rem) {
  dl { grid-template-columns: 1fr; gap: 0 0; }
  dd { margin-bottom: 0.5rem; }
}
footer { color: var(--muted); font-size: 0.85rem; margin-top: 2rem; }
`;

// Plain ES2017 for any current browser; every value from the server goes through textContent.
const script = `
(function () {
  var token = document.querySelector('meta[name="netvault-token"]').content;
  var maxBytes = Number(document.body.getAttribute('data-max-bytes'));
  var zone = document.getElementById('zone');
  var input = document.getElementById('file');
  var status = document.getElementById('status');
  var result = document.getElementById('result');

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function row(list, label, value) {
    if (value === undefined || value === null || value === '') return;
    list.appendChild(el('dt', '', label));
    list.appendChild(el('dd', 'mono', String(value)));
  }

  function card(kind, title) {
    result.textContent = '';
    var box = el('section', 'card ' + kind);
    box.appendChild(el('h2', '', title));
    result.appendChild(box);
    return box;
  }

  function showError(title, text) {
    var box = card('bad', title);
    box.appendChild(el('p', 'reason', text));
  }

  function showIngested(answer) {
    var tunnel = answer.tunnel;
    var box = card('ok', 'Ingested ' + answer.name);
    var list = el('dl');
    row(list, 'Interface', tunnel.name);
    row(list, 'Addresses', tunnel.addresses.join(', '));
    row(list, 'DNS', tunnel.dns.length ? tunnel.dns.join(', ') : 'none');
    row(list, 'MTU', tunnel.mtu);
    row(list, 'Listen port', tunnel.listenPort);
    box.appendChild(list);
    tunnel.peers.forEach(function (peer, index) {
      box.appendChild(el('h3', '', tunnel.peers.length > 1 ? 'Peer ' + (index + 1) : 'Peer'));
      var peerList = el('dl');
      row(peerList, 'Public key', peer.publicKey);
      row(peerList, 'Endpoint', peer.endpoint || 'none');
      row(peerList, 'Allowed IPs', peer.allowedIps.join(', '));
      row(peerList, 'Keepalive', peer.persistentKeepalive ? peer.persistentKeepalive + ' s' : '');
      row(peerList, 'Preshared key', peer.presharedKey ? 'yes, kept in a 0600 file' : '');
      box.appendChild(peerList);
    });
    box.appendChild(el('p', 'note', 'The private key went into ' + answer.keyFile +
      ' (mode 0600) and is never shown. The uploaded file was overwritten and removed.'));
    if (answer.ignored && answer.ignored.length) {
      box.appendChild(el('p', 'note', 'Not carried over: ' + answer.ignored.join(', ') + '.'));
    }
  }

  function showRefused(answer) {
    var box = card('bad', 'Refused ' + answer.name);
    if (answer.line) {
      var where = 'Line ' + answer.line + (answer.key ? ', ' + answer.key : '');
      box.appendChild(el('p', 'where', where));
    }
    box.appendChild(el('p', 'reason', answer.reason));
    if (answer.keptAt) {
      box.appendChild(el('p', 'note', 'The file was set aside on the server in ' + answer.keptAt +
        ' with a reason file next to it; it may hold a key: remove it (shred -u) once read.'));
    } else {
      box.appendChild(el('p', 'note', 'Nothing was stored. Fix the file and drop it again.'));
    }
  }

  function send(files) {
    if (!files || files.length === 0) return;
    if (files.length > 1) return showError('One file at a time', 'Drop a single .conf file.');
    var file = files[0];
    if (file.size > maxBytes) {
      return showError('Too large', file.name + ' is ' + file.size + ' bytes; the limit is ' +
        maxBytes + ' bytes. A WireGuard .conf is a few hundred bytes.');
    }
    if (file.size === 0) return showError('Empty file', file.name + ' is empty.');

    status.textContent = 'Uploading ' + file.name + '…';
    result.textContent = '';
    zone.setAttribute('aria-busy', 'true');
    fetch('upload', {
      method: 'POST',
      body: file,
      cache: 'no-store',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/octet-stream',
        'X-Netvault-Token': token,
        'X-Netvault-Filename': encodeURIComponent(file.name)
      }
    }).then(function (response) {
      var type = response.headers.get('Content-Type') || '';
      if (type.indexOf('application/json') === 0) {
        return response.json().then(function (answer) {
          if (answer.status === 'ingested') showIngested(answer);
          else showRefused(answer);
        });
      }
      return response.text().then(function (text) {
        showError('Not accepted (' + response.status + ')', text);
      });
    }).catch(function (error) {
      showError('The upload did not reach netvault', String(error && error.message || error));
    }).then(function () {
      status.textContent = '';
      zone.removeAttribute('aria-busy');
    });
  }

  zone.addEventListener('dragover', function (event) {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('click', function (event) {
    if (!event.target.closest('label, input')) input.click();
  });
  zone.addEventListener('dragleave', function () { zone.classList.remove('over'); });
  zone.addEventListener('drop', function (event) {
    event.preventDefault();
    zone.classList.remove('over');
    send(event.dataTransfer && event.dataTransfer.files);
  });
  input.addEventListener('change', function () {
    send(input.files);
    input.value = '';
  });
  // A file dropped next to the zone must not make the browser navigate away to it.
  window.addEventListener('dragover', function (event) { event.preventDefault(); });
  window.addEventListener('drop', function (event) { event.preventDefault(); });
})();
`;

export function landingPage(options: PageOptions): string {
  const { token, nonce, maxBytes, host } = options;
  const kib = Math.floor(maxBytes / 1024);
  const curl =
    `curl --data-binary @privado.conf -H 'Content-Type: application/octet-stream' ` +
    `-H 'X-Netvault-Token: ${token}' http://${host}/upload`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="netvault-token" content="${escapeHtml(token)}">
<link rel="icon" href="data:,">
<title>netvault · landing zone</title>
<style nonce="${nonce}">${style}</style>
</head>
<body data-max-bytes="${maxBytes}">
<main>
<header>
<h1>netvault landing zone</h1>
<p>Hand over your VPN provider's WireGuard configuration.</p>
</header>
<div class="zone" id="zone">
<p class="big">Drop a WireGuard <code>.conf</code> here</p>
<label class="button" for="file">Choose a file</label>
<input class="visually-hidden" type="file" id="file" accept=".conf,text/plain">
<p class="hint">One file, up to ${kib} KiB. The private key goes straight into a 0600 key
file on this server and is never shown; addresses, endpoint, peer key and DNS are.</p>
</div>
<p id="status" role="status" aria-live="polite"></p>
<div id="result" aria-live="polite"></div>
<noscript><section class="card bad"><h2>JavaScript is off</h2>
<p class="reason">This page sends the file with a few lines of plain JavaScript. Without it, from
a shell on an allowed address:</p>
<p class="reason mono">${escapeHtml(curl)}</p></section></noscript>
<footer>Served by netvault, only to allowed addresses. Uploads are ingested at once; the
original is overwritten and removed.</footer>
</main>
<script nonce="${nonce}">${script}</script>
</body>
</html>
`;
}
