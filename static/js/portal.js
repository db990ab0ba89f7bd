/* The portal's only script: progressive enhancement of server-rendered pages.
 * - Ask: streams the answer over /ws/ask/ instead of posting the form; a finished answer moves up
 *   into the conversation's thread when the next question (a follow-up) is asked.
 * - Feedback: posts thumbs up/down without leaving the page.
 * - Uploads: live ingestion progress over /ws/jobs/.
 * All texts come translated from the server (json_script / data attributes); answer text is only
 * ever inserted as text nodes, never as HTML.
 */
(function () {
  "use strict";

  function readStrings(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : {};
  }

  function socketUrl(path) {
    return (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + path;
  }

  // Text with [n] markers, as text nodes and links to the cited passages.
  function renderLinkedAnswer(container, answer, citations) {
    var urls = {};
    (citations || []).forEach(function (citation) { if (citation.url) urls[String(citation.number)] = citation.url; });
    container.textContent = "";
    var pattern = /\[(\d{1,3})\]/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(answer)) !== null) {
      container.appendChild(document.createTextNode(answer.slice(last, match.index)));
      var url = urls[match[1]];
      if (url) {
        var link = document.createElement("a");
        link.className = "cite";
        link.href = url;
        link.textContent = match[0];
        container.appendChild(link);
      } else {
        container.appendChild(document.createTextNode(match[0]));
      }
      last = pattern.lastIndex;
    }
    container.appendChild(document.createTextNode(answer.slice(last)));
  }

  // "Customer Refund Policy — Eligibility": the document, and which part of it is cited.
  function citationLabel(citation) {
    return citation.section ? citation.title + " \u2014 " + citation.section : citation.title;
  }

  // A citation, with its passage to unfold in place (a <details>: keyboard and screen readers work).
  function citationItem(citation) {
    var item = listItemLink(citationLabel(citation), citation.url, citation.number);
    if (citation.excerpt) {
      var details = document.createElement("details");
      details.className = "passage";
      var summary = document.createElement("summary");
      summary.textContent = readStrings("ask-strings").show_passage;
      var quote = document.createElement("blockquote");
      quote.textContent = citation.excerpt;
      details.appendChild(summary);
      details.appendChild(quote);
      item.appendChild(details);
    }
    return item;
  }

  function listItemLink(title, url, number) {
    var item = document.createElement("li");
    if (number) { item.value = number; item.id = "citation-" + number; }
    if (url) {
      var link = document.createElement("a");
      link.href = url;
      link.textContent = title || url;
      item.appendChild(link);
    } else {
      item.textContent = title;
    }
    return item;
  }

  function setupAsk(form) {
    var strings = readStrings("ask-strings");
    var question = form.querySelector("textarea[name=question]");
    var submit = document.getElementById("ask-submit");
    var stop = document.getElementById("ask-stop");
    var status = document.getElementById("ask-status");
    var errorBox = document.getElementById("ask-error");
    var answer = document.getElementById("answer");
    var text = document.getElementById("answer-text");
    var heading = document.getElementById("answer-heading");
    var citationList = document.getElementById("citation-list");
    var sourceList = document.getElementById("source-list");
    var related = document.getElementById("related");
    var relatedList = document.getElementById("related-list");
    var feedbackForm = document.getElementById("feedback-form");
    var feedbackStatus = document.getElementById("feedback-status");
    var conversation = form.querySelector("input[name=conversation_id]");
    var newConversation = document.getElementById("new-conversation");
    var thread = document.getElementById("thread");
    var threadList = document.getElementById("thread-list");
    var askedText = document.getElementById("answer-question");
    var understood = document.getElementById("answer-understood");
    var understoodText = document.getElementById("answer-understood-text");
    var lastTurn = null;  // the finished answer on the page: {question, frame}
    var socket = null;
    var pending = [];
    var streaming = false;

    function connect() {
      socket = new WebSocket(socketUrl(form.dataset.socket));
      socket.addEventListener("open", function () {
        pending.splice(0).forEach(function (message) { socket.send(message); });
      });
      socket.addEventListener("message", function (event) { handle(JSON.parse(event.data)); });
      socket.addEventListener("close", function () {
        socket = null;
        if (streaming) { showError(strings.connection_lost); finish(""); }
      });
    }

    function send(message) {
      var data = JSON.stringify(message);
      if (socket && socket.readyState === WebSocket.OPEN) { socket.send(data); return; }
      pending.push(data);
      if (!socket) connect();
    }

    function showError(message) {
      errorBox.textContent = message;
      errorBox.hidden = false;
    }

    function reset() {
      errorBox.hidden = true;
      errorBox.textContent = "";
      text.textContent = "";
      citationList.textContent = "";
      sourceList.textContent = "";
      relatedList.textContent = "";
      related.hidden = true;
      feedbackForm.hidden = true;
      feedbackStatus.textContent = "";
      Array.prototype.forEach.call(feedbackForm.querySelectorAll("button"), function (b) { b.disabled = false; });
      var notice = answer.querySelector(".notice");
      if (notice) notice.remove();
    }

    // The finished answer becomes a turn of the thread above the question box.
    function moveToThread(turn) {
      var item = document.createElement("li");
      item.className = "turn";
      var asked = document.createElement("p");
      asked.className = "turn-question";
      asked.textContent = turn.question;
      item.appendChild(asked);
      if (turn.frame.standalone_question) {
        var rewritten = document.createElement("p");
        rewritten.className = "turn-understood muted";
        rewritten.textContent = strings.understood_as + " " + turn.frame.standalone_question;
        item.appendChild(rewritten);
      }
      var said = document.createElement("p");
      said.className = "turn-answer";
      said.textContent = (turn.frame.answer || "").replace(/\s?\[\d{1,3}\]/g, "");
      item.appendChild(said);
      if (turn.frame.history_url) {
        var more = document.createElement("p");
        more.className = "turn-link";
        more.appendChild(listItemLink(strings.sources_and_feedback, turn.frame.history_url).firstChild);
        item.appendChild(more);
      }
      threadList.appendChild(item);
      thread.hidden = false;
    }

    function finish(message) {
      streaming = false;
      submit.disabled = false;
      stop.hidden = true;
      text.setAttribute("aria-busy", "false");
      answer.classList.remove("streaming");
      if (message) status.textContent = message;
    }

    function showDone(frame) {
      if (frame.answer) renderLinkedAnswer(text, frame.answer, frame.citations);
      understoodText.textContent = frame.standalone_question || "";
      understood.hidden = !frame.standalone_question;
      if (frame.conversation_id) {
        conversation.value = frame.conversation_id;
        newConversation.hidden = false;
        lastTurn = { question: askedText.textContent, frame: frame };
        question.value = "";  // ready for a follow-up
      }
      citationList.textContent = "";
      (frame.citations || []).forEach(function (c) { citationList.appendChild(citationItem(c)); });
      sourceList.textContent = "";
      (frame.sources || []).forEach(function (s) { sourceList.appendChild(listItemLink(s.title, s.url)); });
      if (!(frame.sources || []).length) {
        var empty = listItemLink(strings.no_sources);
        empty.className = "muted";
        sourceList.appendChild(empty);
      }
      // A near miss: where to look, by title and section (citationLabel), never offered as an answer.
      (frame.related || []).forEach(function (r) { relatedList.appendChild(listItemLink(citationLabel(r), r.url)); });
      related.hidden = !(frame.related || []).length;
      var outcomeText = strings["outcome_" + frame.outcome];
      if (outcomeText) {
        var notice = document.createElement("p");
        notice.className = "notice";
        notice.textContent = outcomeText;
        heading.after(notice);
      }
      if (frame.feedback_url) {
        feedbackForm.action = frame.feedback_url;
        feedbackForm.hidden = false;
      }
      finish(strings.done);
      heading.focus();  // keyboard and screen-reader users land on the finished answer
    }

    function handle(frame) {
      switch (frame.type) {
        case "ping": send({ type: "pong" }); break;
        case "started": status.textContent = strings.thinking; break;
        case "citation":
          citationList.appendChild(citationItem(frame));
          break;
        case "token":
          if (!text.textContent) status.textContent = strings.streaming;
          text.appendChild(document.createTextNode(frame.text));
          break;
        case "done": showDone(frame); break;
        case "error":
          showError(frame.message);
          if (frame.code === "no_such_conversation") { conversation.value = ""; lastTurn = null; }
          if (frame.code === "invalid_question" || frame.code === "question_too_long") finish("");
          break;
        case "cancelled": status.textContent = strings.stopped; break;
        case "end": if (streaming) finish(""); break;
        default: break;
      }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (streaming) return;
      if (lastTurn) { moveToThread(lastTurn); lastTurn = null; }
      reset();
      askedText.textContent = question.value.trim();
      understood.hidden = true;
      streaming = true;
      submit.disabled = true;
      stop.hidden = false;
      answer.hidden = false;
      answer.classList.add("streaming");
      text.setAttribute("aria-busy", "true");
      status.textContent = strings.connecting;
      stop.focus();  // Ask is disabled while the answer streams: keyboard users land on Stop
      var message = { type: "ask", question: question.value };
      if (conversation.value) message.conversation_id = parseInt(conversation.value, 10);
      send(message);
    });
    stop.addEventListener("click", function () { send({ type: "cancel" }); });
    connect();
  }

  function setupFeedback(form) {
    var status = document.getElementById("feedback-status");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
      fetch(form.action, { method: "POST", body: data, headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          status.textContent = response.ok ? form.dataset.thanks : form.dataset.failed;
          if (response.ok) Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
        })
        .catch(function () { status.textContent = form.dataset.failed; });
    });
  }

  function setupJobs(table) {
    var strings = readStrings("job-strings");
    var live = document.getElementById("jobs-live");
    var finished = ["succeeded", "failed", "skipped"];

    function row(frame) {
      var existing = table.querySelector('tr[data-job-id="' + CSS.escape(frame.job_id) + '"]');
      if (existing) return existing;
      var template = table.querySelector("template");
      var fresh = template.content.firstElementChild.cloneNode(true);
      fresh.dataset.jobId = frame.job_id;
      table.tBodies[0].prepend(fresh);
      var empty = table.querySelector(".jobs-empty");
      if (empty) empty.remove();
      return fresh;
    }

    function update(frame) {
      var tr = row(frame);
      var file = tr.querySelector(".job-file");
      file.textContent = "";
      file.appendChild(frame.document_url && frame.status === "succeeded"
        ? (function () { var a = document.createElement("a"); a.href = frame.document_url; a.textContent = frame.filename; return a; }())
        : document.createTextNode(frame.filename));
      var badge = tr.querySelector(".job-status");
      var before = badge.dataset.status;
      badge.textContent = strings[frame.status] || frame.status;
      badge.className = "badge badge-" + frame.status + " job-status";
      badge.dataset.status = frame.status;
      tr.querySelector(".job-error").textContent = frame.error_message || "";
      var progress = tr.querySelector(".job-progress");
      progress.value = frame.progress;
      progress.textContent = Math.round(frame.progress * 100) + "%";
      if (before !== frame.status && finished.indexOf(frame.status) >= 0) {
        live.textContent = frame.filename + ": " + (strings[frame.status] || frame.status);
      }
    }

    function connect() {
      var socket = new WebSocket(socketUrl(table.dataset.socket));
      socket.addEventListener("open", function () { live.textContent = ""; });
      socket.addEventListener("message", function (event) {
        var frame = JSON.parse(event.data);
        if (frame.type === "job") update(frame);
      });
      socket.addEventListener("close", function () {
        live.textContent = strings.reconnecting;
        window.setTimeout(connect, 3000);
      });
    }
    connect();
  }

  // Styles and tests can tell that the script runs (pages work without it too).
  document.documentElement.classList.add("js");
  var askForm = document.getElementById("ask-form");
  if (askForm) setupAsk(askForm);
  Array.prototype.forEach.call(document.querySelectorAll("form.feedback"), setupFeedback);
  var jobs = document.getElementById("jobs");
  if (jobs) setupJobs(jobs);
}());
