/* Forms that behave on a slow network and an expired session (no inline script: CSP).
 * - form[data-once]: after the first submit its buttons are disabled ("Sedang dikirim…");
 *   the clicked button's name/value is kept in a hidden input so the decision still arrives.
 * - form[data-draft]: what was typed is kept in sessionStorage on submit. If the session had
 *   expired, the login page says so, and after logging in again the same page gets the text back.
 * - .clamp: long text is cut to a few lines with a "selengkapnya" toggle. */
(function () {
  'use strict';
  var PREFIX = 'alur-draft:';
  var MAX_AGE_MS = 2 * 60 * 60 * 1000;

  function store() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function keyOf(form) {
    var url = new URL(form.getAttribute('action') || window.location.href, window.location.href);
    return PREFIX + url.pathname;
  }

  function saveDraft(form) {
    var s = store();
    if (!s) { return; }
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === 'csrf_token' || el.type === 'file' || el.type === 'submit' || el.type === 'hidden') { return; }
      if ((el.type === 'radio' || el.type === 'checkbox') && !el.checked) { return; }
      values[el.name] = el.value;
    });
    s.setItem(keyOf(form), JSON.stringify({ at: Date.now(), values: values }));
  }

  function drafts() {
    var s = store(), found = [];
    if (!s) { return found; }
    for (var i = 0; i < s.length; i++) {
      var key = s.key(i);
      if (key && key.indexOf(PREFIX) === 0) { found.push(key); }
    }
    return found;
  }

  function clearDrafts() {
    var s = store();
    if (s) { drafts().forEach(function (key) { s.removeItem(key); }); }
  }

  function restore(form) {
    var s = store();
    if (!s) { return; }
    var raw = s.getItem(keyOf(form));
    if (!raw) { return; }
    s.removeItem(keyOf(form));
    var draft;
    try { draft = JSON.parse(raw); } catch (e) { return; }
    if (!draft || Date.now() - draft.at > MAX_AGE_MS) { return; }
    var restored = false;
    Object.keys(draft.values).forEach(function (name) {
      var value = draft.values[name];
      Array.prototype.forEach.call(form.querySelectorAll('[name="' + name.replace(/"/g, '') + '"]'), function (el) {
        if (el.type === 'radio' || el.type === 'checkbox') {
          el.checked = el.value === value;
        } else if (el.type !== 'file') {
          el.value = value;
        }
        restored = true;
      });
    });
    if (restored) {
      var note = document.createElement('p');
      note.className = 'flash flash-info';
      note.id = 'draft-restored';
      note.setAttribute('role', 'status');
      note.textContent = 'Isian yang tadi Anda ketik dikembalikan. Berkas (bila ada) perlu dipilih ulang.';
      form.parentNode.insertBefore(note, form);
    }
  }

  function once(form) {
    form.addEventListener('submit', function (event) {
      if (form.getAttribute('data-sent') === 'true') { event.preventDefault(); return; }
      var submitter = event.submitter;
      if (submitter && submitter.name) {
        var hidden = document.createElement('input');
        hidden.type = 'hidden';
        hidden.name = submitter.name;
        hidden.value = submitter.value;
        form.appendChild(hidden);
      }
      if (form.hasAttribute('data-draft')) { saveDraft(form); }
      form.setAttribute('data-sent', 'true');
      Array.prototype.forEach.call(form.querySelectorAll('button, input[type="submit"]'), function (button) {
        button.disabled = true;
        button.setAttribute('aria-disabled', 'true');
      });
      if (submitter) { submitter.setAttribute('data-label', submitter.textContent); submitter.textContent = 'Sedang dikirim…'; }
    });
  }

  function clamp(el) {
    if (el.scrollHeight <= el.clientHeight + 2) { el.classList.remove('clamp'); return; }
    var toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = 'link-button more';
    toggle.textContent = 'selengkapnya';
    toggle.addEventListener('click', function () {
      var open = el.classList.toggle('is-open');
      toggle.textContent = open ? 'ringkas' : 'selengkapnya';
    });
    el.parentNode.insertBefore(toggle, el.nextSibling);
  }

  var settled = document.querySelector('.flash-ok, .form-error');
  if (document.getElementById('login-form')) {
    var s = store(), recent = false;
    drafts().forEach(function (key) {
      try { recent = recent || Date.now() - JSON.parse(s.getItem(key)).at < MAX_AGE_MS; } catch (e) { /* ignore */ }
    });
    var expired = document.getElementById('session-expired');
    var told = document.querySelector('.flashes .flash-info');  // the server said it already
    if (recent && expired && !told && new URLSearchParams(window.location.search).get('next')) {
      expired.classList.remove('is-hidden');
    }
  } else if (settled) {
    clearDrafts();  // the server answered the submit (saved, or refused with the values kept)
  } else {
    document.querySelectorAll('form[data-draft]').forEach(restore);
  }
  document.querySelectorAll('form[data-once]').forEach(once);
  window.addEventListener('pageshow', function (event) {  // back button: the page comes from the cache
    if (!event.persisted) { return; }
    document.querySelectorAll('form[data-sent="true"]').forEach(function (form) {
      form.removeAttribute('data-sent');
      Array.prototype.forEach.call(form.querySelectorAll('button'), function (button) {
        button.disabled = false;
        button.removeAttribute('aria-disabled');
        if (button.hasAttribute('data-label')) { button.textContent = button.getAttribute('data-label'); }
      });
    });
  });
  document.querySelectorAll('.clamp').forEach(clamp);
}());
