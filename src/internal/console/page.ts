/**
 * The development admin's console, its page: plain HTML, CSS and a little script, no build step. It lists the
 * jobs (run once with params, kill, pause/resume), the executors and the recent runs from the events of
 * `api/events`, and tails a run's log through `api/runs/{logId}/log` until its end.
 *
 * (The script is kept free of backquotes and dollar-braces: it lives in this template string as it is sent.)
 *
 * @internal
 */

const style = String.raw`
:root { --fg: #1f2933; --muted: #6b7785; --line: #e3e7ec; --bg: #f6f8fa; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 12px 24px; background: #1f2933; color: #fff; }
header h1 { margin: 0; font-size: 17px; font-weight: 600; }
header .admin { color: #cbd2d9; font-family: ui-monospace, monospace; font-size: 12px; }
header .live { margin-left: auto; font-size: 12px; color: #9fb3c8; }
header .live.on::before { content: "● "; color: #3ebd93; }
header .live.off::before { content: "● "; color: #ef4e4e; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; padding: 16px 24px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 .mono, h2 .badge { text-transform: none; letter-spacing: 0; }
.scroll { max-height: 360px; overflow: auto; }
td.nowrap { white-space: nowrap; }
h2 { margin: 0 0 8px; font-size: 14px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
tr:last-child td { border-bottom: 0; }
tr.selected td { background: #eef4ff; }
td.mono, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
td.msg { max-width: 420px; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
input.params { width: 100%; min-width: 140px; padding: 4px 6px; border: 1px solid #cbd2d9; border-radius: 4px; font: 12px ui-monospace, monospace; }
button { padding: 4px 10px; border: 1px solid #cbd2d9; border-radius: 4px; background: #fff; color: var(--fg); font: inherit; font-size: 12px; cursor: pointer; }
button:hover { background: #f0f4f8; }
button.run { background: var(--accent); border-color: var(--accent); color: #fff; }
button.run:hover { background: #1d4ed8; }
button.kill { color: #b42318; border-color: #f4b4ae; }
td.actions { white-space: nowrap; }
td.actions button + button { margin-left: 4px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge.success, .badge.online { background: #def7ec; color: #03543f; }
.badge.failed, .badge.lost { background: #fde8e8; color: #9b1c1c; }
.badge.timed-out { background: #feecdc; color: #8a2c0d; }
.badge.killed { background: #ede9fe; color: #5b21b6; }
.badge.refused { background: #fdf6b2; color: #723b13; }
.badge.not-triggered, .badge.removed, .badge.offline, .badge.paused { background: #e5e7eb; color: #374151; }
.badge.running { background: #e1effe; color: #1e429f; }
.badge.running::before { content: "● "; animation: pulse 1s infinite; }
@keyframes pulse { 50% { opacity: .3; } }
#notice { min-height: 20px; margin: 0 0 8px; font-size: 13px; }
#notice.error { color: #b42318; }
#log-title { display: flex; gap: 8px; align-items: center; }
#log { margin: 0; min-height: 160px; max-height: 420px; overflow: auto; padding: 10px 12px; background: #111827; color: #e5e7eb;
  border-radius: 4px; font: 12px/1.5 ui-monospace, monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
`

const script = String.raw`
"use strict";
var jobsBody = document.querySelector("#jobs tbody");
var executorsBody = document.querySelector("#executors tbody");
var runsBody = document.querySelector("#runs tbody");
var notice = document.getElementById("notice");
var live = document.getElementById("live");
var logBox = document.getElementById("log");
var logTitle = document.getElementById("log-name");
var logBadge = document.getElementById("log-status");
var state = { jobs: [], executors: [], runs: [] };
var jobRows = {};
var tail = { logId: null, next: 1, timer: null };

function el(tag, attrs, children) {
  var node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (key) {
    if (key === "text") node.textContent = attrs[key];
    else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), attrs[key]);
    else node.setAttribute(key, attrs[key]);
  });
  (children || []).forEach(function (child) { if (child != null) node.append(child); });
  return node;
}
function badge(status) { return el("span", { class: "badge " + status.replace(/ /g, "-"), text: status }); }
function time(ms) { return ms ? new Date(ms).toLocaleTimeString() : ""; }
function ago(ms) {
  var seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return seconds < 60 ? seconds + " s ago" : Math.round(seconds / 60) + " min ago";
}
function duration(run) {
  if (run.status === "refused" || run.status === "not triggered") return "";
  var ms = (run.finishedAt || Date.now()) - run.triggeredAt;
  return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s";
}
function say(text, isError) { notice.textContent = text; notice.className = isError ? "error" : ""; }

function post(path, body) {
  return fetch("api/" + path, { method: "POST", body: body === undefined ? "" : JSON.stringify(body) })
    .then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) throw new Error(json.error || response.statusText);
        return json;
      });
    });
}

function runOnce(job, input) {
  say("running job " + job.jobId + " " + job.handler + "…");
  post("jobs/" + job.jobId + "/run", { params: input.value }).then(function (reply) {
    if (reply.triggered.length === 0) return say("job " + job.jobId + " " + job.handler + " was not triggered: see its run below", true);
    var parts = reply.triggered.map(function (t) {
      return "#" + t.logId + " on " + t.executor + (t.code === 200 ? "" : " refused: " + t.msg);
    });
    say("job " + job.jobId + " " + job.handler + " triggered: " + parts.join(", "), reply.triggered.every(function (t) { return t.code !== 200; }));
    openLog(reply.triggered[0].logId);
  }).catch(function (error) { say(error.message, true); });
}

function kill(job) {
  post("jobs/" + job.jobId + "/kill").then(function (reply) {
    var parts = reply.replies.map(function (r) { return r.executor + ": " + (r.code === 200 ? "killed" : r.msg); });
    say("kill job " + job.jobId + " " + job.handler + ": " + (parts.join(", ") || "no executor registered"));
  }).catch(function (error) { say(error.message, true); });
}

function togglePause(job) {
  var paused = state.jobs.some(function (j) { return j.jobId === job.jobId && j.paused; });
  post("jobs/" + job.jobId + (paused ? "/resume" : "/pause")).then(function (reply) {
    job.paused = reply.paused;
    renderJobs();
    say("job " + job.jobId + " " + job.handler + (reply.paused ? ": schedule paused" : ": schedule resumed"));
  }).catch(function (error) { say(error.message, true); });
}

function renderJobs() {
  state.jobs.forEach(function (job) {
    var row = jobRows[job.jobId];
    if (row === undefined) {
      var input = el("input", { class: "params", placeholder: "params", "aria-label": "params of job " + job.jobId });
      input.value = job.params;
      row = {
        tr: null,
        schedule: el("td", { class: "mono" }),
        pause: el("button", { class: "pause", onclick: function () { togglePause(job); } })
      };
      row.tr = el("tr", { "data-job": String(job.jobId) }, [
        el("td", { class: "mono", text: String(job.jobId) }),
        el("td", { text: job.handler }),
        row.schedule,
        el("td", { class: "mono", text: job.route }),
        el("td", { class: "mono", text: job.blockStrategy }),
        el("td", { text: job.timeoutSeconds ? job.timeoutSeconds + " s" : "none" }),
        el("td", {}, [input]),
        el("td", { class: "actions" }, [
          el("button", { class: "run", onclick: function () { runOnce(job, input); } }, ["Run once"]),
          el("button", { class: "kill", onclick: function () { kill(job); } }, ["Kill"]),
          row.pause
        ])
      ]);
      jobRows[job.jobId] = row;
      jobsBody.append(row.tr);
    }
    row.schedule.replaceChildren.apply(row.schedule, job.paused ? [job.schedule, " ", badge("paused")] : [job.schedule]);
    row.pause.textContent = job.paused ? "Resume" : "Pause";
    row.pause.disabled = job.schedule === "manual";
  });
}

function renderExecutors() {
  executorsBody.replaceChildren.apply(executorsBody, state.executors.length === 0
    ? [el("tr", {}, [el("td", { colspan: "4", class: "muted", text: "no executor has registered yet" })])]
    : state.executors.map(function (e) {
      return el("tr", {}, [
        el("td", { class: "mono", text: e.address }),
        el("td", { class: "nowrap", text: e.appName }),
        el("td", { class: "nowrap", title: time(e.lastBeatAt), text: ago(e.lastBeatAt) }),
        el("td", {}, [badge(e.status)])
      ]);
    }));
}

function renderRuns() {
  runsBody.replaceChildren.apply(runsBody, state.runs.length === 0
    ? [el("tr", {}, [el("td", { colspan: "9", class: "muted", text: "no runs yet: run a job once, or wait for its schedule" })])]
    : state.runs.map(function (run) {
      var tr = el("tr", { "data-log-id": run.logId === null ? "" : String(run.logId), class: run.logId !== null && run.logId === tail.logId ? "selected" : "" }, [
        el("td", { class: "mono", text: run.logId === null ? "" : String(run.logId) }),
        el("td", { class: "nowrap", text: run.jobId + " " + run.handler }),
        el("td", { class: "mono nowrap", text: (run.executor || "") + (run.shard ? " (shard " + run.shard + ")" : "") }),
        el("td", { class: "nowrap", text: time(run.triggeredAt) }),
        el("td", { class: "nowrap", text: duration(run) }),
        el("td", {}, [badge(run.status)]),
        el("td", { class: "mono", text: run.code === null ? "" : String(run.code) }),
        el("td", { class: "msg", text: run.msg || "" }),
        el("td", {}, [run.logId === null || run.status === "refused" ? null
          : el("button", { class: "log", onclick: function () { openLog(run.logId); } }, ["Log"])])
      ]);
      return tr;
    }));
  var current = runOf(tail.logId);
  logBadge.replaceChildren(current ? badge(current.status) : "");
}

function runOf(logId) { return state.runs.find(function (run) { return run.logId === logId; }); }

function openLog(logId) {
  clearTimeout(tail.timer);
  tail = { logId: logId, next: 1, timer: null };
  var run = runOf(logId);
  logTitle.textContent = "run #" + logId + (run ? " · job " + run.jobId + " " + run.handler : "");
  logBox.textContent = "";
  renderRuns();
  readLog(tail);
}

// The admin's log view: pages from the last line read, until the run has its result and no line is left.
function readLog(current) {
  fetch("api/runs/" + current.logId + "/log?fromLineNum=" + current.next)
    .then(function (response) { return response.json(); })
    .then(function (page) {
      if (tail !== current) return;
      if (page.error) {
        logBox.append(el("span", { class: "muted", text: page.error + "\n" }));
        return;
      }
      if (page.logContent) {
        var atBottom = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 4;
        // Java's <br> markers as line breaks; one that starts a line only ends the one before.
        logBox.append(page.logContent.replace(/(^|\n)<br>/g, "$1").replace(/<br>/g, "\n"));
        if (atBottom) logBox.scrollTop = logBox.scrollHeight;
      }
      if (page.toLineNum >= page.fromLineNum) current.next = page.toLineNum + 1;
      if (page.isEnd) return;
      current.timer = setTimeout(function () { readLog(current); }, 500);
    })
    .catch(function () { if (tail === current) current.timer = setTimeout(function () { readLog(current); }, 1000); });
}

function render(next) {
  state = next;
  renderJobs();
  renderExecutors();
  renderRuns();
}

var events = new EventSource("api/events");
events.onmessage = function (message) { live.className = "live on"; live.textContent = "live"; render(JSON.parse(message.data)); };
events.onerror = function () { live.className = "live off"; live.textContent = "disconnected, retrying…"; };
// Durations of running runs and "last beat … ago" move on between events.
setInterval(function () { renderExecutors(); renderRuns(); }, 1000);
`

/** The page, as served at `{contextPath}/console/`. */
export const page = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Development admin · effect-xxl-job</title>
<style>${style}</style>
</head>
<body>
<header>
  <h1>effect-xxl-job · development admin</h1>
  <span class="admin" id="admin-url"></span>
  <span class="live" id="live">connecting…</span>
</header>
<main>
  <section class="wide">
    <h2>Jobs</h2>
    <p id="notice" role="status"></p>
    <table id="jobs">
      <thead><tr><th>ID</th><th>Handler</th><th>Schedule</th><th>Route</th><th>Block strategy</th><th>Timeout</th><th>Params</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section class="wide">
    <h2>Recent runs</h2>
    <div class="scroll">
      <table id="runs">
        <thead><tr><th>Log ID</th><th>Job</th><th>Executor</th><th>Triggered</th><th>Duration</th><th>Status</th><th>Code</th><th>Message</th><th></th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
  </section>
  <section>
    <h2 id="log-title">Log <span id="log-name" class="mono muted">choose a run's Log</span> <span id="log-status"></span></h2>
    <pre id="log" aria-label="run log"></pre>
  </section>
  <section>
    <h2>Executors</h2>
    <table id="executors">
      <thead><tr><th>Address</th><th>AppName</th><th>Last beat</th><th>Status</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script>
document.getElementById("admin-url").textContent = "XXL_JOB_ADMIN_ADDRESSES=" + location.href.replace(/\/console\/.*$/, "");
${script}
</script>
</body>
</html>
`
