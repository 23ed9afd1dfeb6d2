/* The process owner's modeler: camunda-bpmn-js (Camunda 7 properties panel, element templates)
 * served from the app. The server decides: "Periksa" sends the diagram to the dry-run check and
 * lists its errors and warnings (click one to select the element); "Deploy" is enabled only for
 * the exact diagram that passed the check. Templates whose metadata carries `alurForm` also get
 * that camunda:formData (element templates cannot bind forms), in the same undoable command. */
(function () {
  'use strict';

  var root = document.getElementById('modeler');
  if (!root) { return; }
  var statusEl = document.getElementById('modeler-status');
  var resultEl = document.getElementById('check-result');
  var btnCheck = document.getElementById('btn-check');
  var btnDeploy = document.getElementById('btn-deploy');
  var filename = root.getAttribute('data-filename') || 'diagram.bpmn';
  var csrf = root.getAttribute('data-csrf');
  var modeler = null;
  var checkedXml = null;

  function setStatus(text, kind) {
    statusEl.textContent = text;
    statusEl.className = 'modeler-status ' + (kind === 'error' ? 'form-error' : kind === 'ok' ? 'check-ok' : 'muted');
  }

  function invalidate() {
    checkedXml = null;
    btnDeploy.disabled = true;
  }

  // ---- the modeler in Bahasa Indonesia (strings not listed stay as the library has them) ----------

  var WORDS = {
    'General': 'Umum', 'Name': 'Nama', 'Documentation': 'Dokumentasi',
    'Element documentation': 'Uraian kegiatan (dokumentasi)', 'Process documentation': 'Ringkasan proses',
    'Template': 'Template', 'Templates': 'Template', 'Select': 'Pilih', 'Applied': 'Terpasang',
    'Choose element template': 'Pilih template langkah', 'Unlink': 'Lepas template', 'Remove': 'Hapus template',
    'Update': 'Perbarui', 'Update available': 'Ada pembaruan', 'Extension properties': 'Properti tambahan',
    'Properties': 'Properti', 'Forms': 'Formulir', 'Form fields': 'Field formulir', 'Form key': 'Kunci formulir',
    'Type': 'Tipe', 'Label': 'Label', 'Value': 'Nilai', 'Values': 'Nilai', 'Default value': 'Nilai bawaan',
    'Constraints': 'Batasan', 'Condition': 'Kondisi', 'Condition type': 'Jenis kondisi', 'Expression': 'Ekspresi',
    'User assignment': 'Penugasan', 'Inputs': 'Masukan', 'Outputs': 'Keluaran',
    'Asynchronous continuations': 'Kelanjutan asinkron', 'Create new list item': 'Tambah', 'Delete item': 'Hapus',
    'Toggle section': 'Buka/tutup bagian', 'Toggle list item': 'Buka/tutup', 'Delete': 'Hapus',
    'Change element': 'Ubah jenis elemen', 'Add text annotation': 'Tambah catatan', 'Append element': 'Sambung elemen',
    'Create element': 'Buat elemen', 'Set color': 'Warna', 'Activate hand tool': 'Alat geser',
    'Activate lasso tool': 'Pilih beberapa (laso)', 'Activate create/remove space tool': 'Tambah/kurangi ruang',
    'Activate global connect tool': 'Hubungkan', 'Create start event': 'Buat start event',
    'Create intermediate/boundary event': 'Buat event antara', 'Create end event': 'Buat end event',
    'Create gateway': 'Buat gateway (keputusan)', 'Create task': 'Buat tugas (langkah)',
    'Create expanded sub-process': 'Buat sub-proses', 'Create data object reference': 'Buat objek data',
    'Create data store reference': 'Buat penyimpanan data', 'Create pool/participant': 'Buat pool',
    'Create group': 'Buat grup', 'Append end event': 'Sambung end event', 'Append gateway': 'Sambung gateway',
    'Append task': 'Sambung tugas', 'Append intermediate/boundary event': 'Sambung event antara',
    'Connect using sequence/message flow or association': 'Hubungkan dengan alur',
    'Connect to other element': 'Hubungkan ke elemen lain',
    'Add lane above': 'Tambah lane di atas', 'Add lane below': 'Tambah lane di bawah',
    'Divide into two lanes': 'Bagi menjadi dua lane', 'Divide into three lanes': 'Bagi menjadi tiga lane',
    'Select an element to edit its properties.': 'Pilih elemen untuk mengubah propertinya.',
    'Search in diagram': 'Cari di diagram'
  };

  function translate(template, replacements) {
    var text = WORDS[template] || template;
    return text.replace(/{([^}]+)}/g, function (_, key) {
      return replacements && replacements[key] !== undefined ? replacements[key] : '{' + key + '}';
    });
  }

  // ---- forms from templates -------------------------------------------------------------------

  function create(type, attrs, parent) {
    var el = modeler.get('bpmnFactory').create(type, attrs || {});
    el.$parent = parent;
    return el;
  }

  function formField(spec, parent) {
    var field = create('camunda:FormField', { id: spec.id, label: spec.label, type: spec.type || 'string' }, parent);
    if (spec.required) {
      var validation = create('camunda:Validation', {}, field);
      validation.set('constraints', [create('camunda:Constraint', { name: 'required' }, validation)]);
      field.set('validation', validation);
    }
    if (spec.values) {
      field.set('values', spec.values.map(function (v) { return create('camunda:Value', { id: v.id, name: v.name }, field); }));
    }
    if (spec.required_when) {
      var props = create('camunda:Properties', {}, field);
      props.set('values', [create('camunda:Property', { id: 'required_when', value: spec.required_when }, props)]);
      field.set('properties', props);
    }
    return field;
  }

  function addForm(element, fields) {
    // The template's fields are added to the step's form; fields it already has (same id) stay as they are.
    var modeling = modeler.get('modeling');
    var bo = element.businessObject;
    var ext = bo.get('extensionElements');
    if (!ext) {
      ext = create('bpmn:ExtensionElements', { values: [] }, bo);
      modeling.updateProperties(element, { extensionElements: ext });
    }
    var formData = (ext.get('values') || []).filter(function (v) { return v.$instanceOf('camunda:FormData'); })[0];
    if (!formData) {
      formData = create('camunda:FormData', { fields: [] }, ext);
      modeling.updateModdleProperties(element, ext, { values: [formData].concat(ext.get('values') || []) });
    }
    var have = formData.get('fields').map(function (f) { return f.id; });
    var added = fields.filter(function (spec) { return have.indexOf(spec.id) < 0; })
      .map(function (spec) { return formField(spec, formData); });
    if (added.length) {
      modeling.updateModdleProperties(element, formData, { fields: formData.get('fields').concat(added) });
    }
  }

  function installFormBehaviour() {
    modeler.get('eventBus').on('commandStack.propertiesPanel.camunda.changeTemplate.postExecute', function (event) {
      var context = event.context;
      var template = context.newTemplate;
      var fields = template && template.metadata && template.metadata.alurForm;
      if (fields && context.element) { addForm(context.element, fields); }
    });
  }

  // ---- server calls ---------------------------------------------------------------------------

  function post(url, xml) {
    var body = new FormData();
    body.append('file', new Blob([xml], { type: 'application/xml' }), filename);
    return fetch(url, {
      method: 'POST', body: body, credentials: 'same-origin',
      headers: { 'X-CSRFToken': csrf, 'Accept': 'application/json' }
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, status: response.status, data: data }; });
    });
  }

  function select(elementId) {
    var element = modeler.get('elementRegistry').get(elementId);
    if (!element) { return; }
    var canvas = modeler.get('canvas');
    var box = canvas.viewbox();
    // centre the element (scrollToElement puts a wide lane's empty top-left corner in view)
    canvas.viewbox({ x: element.x + element.width / 2 - box.width / 2, y: element.y + element.height / 2 - box.height / 2,
                     width: box.width, height: box.height });
    modeler.get('selection').select(element);
  }

  function problemList(title, cls, problems) {
    var box = document.createElement('div');
    box.className = cls;
    var h = document.createElement('h3');
    h.textContent = title + ' (' + problems.length + ')';
    box.appendChild(h);
    var list = document.createElement('ol');
    problems.forEach(function (p) {
      var li = document.createElement('li');
      var where = [];
      if (p.line) { where.push('baris ' + p.line); }
      if (p.element_id) { where.push('elemen ' + p.element_id); }
      var text = (where.length ? where.join(' · ') + ': ' : '') + p.message;
      if (p.element_id && modeler.get('elementRegistry').get(p.element_id)) {
        var b = document.createElement('button');
        b.type = 'button';
        b.className = 'problem';
        b.setAttribute('data-element', p.element_id);
        b.textContent = text;
        b.addEventListener('click', function () { select(p.element_id); });
        li.appendChild(b);
      } else {
        li.textContent = text;
      }
      list.appendChild(li);
    });
    box.appendChild(list);
    return box;
  }

  function showProblems(errors, warnings) {
    resultEl.textContent = '';
    if (errors.length) { resultEl.appendChild(problemList('Kesalahan — harus diperbaiki', 'check-errors', errors)); }
    if (warnings.length) { resultEl.appendChild(problemList('Peringatan', 'check-warnings', warnings)); }
  }

  function check() {
    invalidate();
    setStatus('Memeriksa diagram di server…');
    return modeler.saveXML({ format: true }).then(function (result) {
      var xml = result.xml;
      return post(root.getAttribute('data-check-url'), xml).then(function (answer) {
        if (!answer.ok) { throw new Error(answer.data.error || ('HTTP ' + answer.status)); }
        var errors = answer.data.errors || [];
        var warnings = answer.data.warnings || [];
        showProblems(errors, warnings);
        root.setAttribute('data-checked', errors.length ? 'errors' : 'clean');
        if (errors.length) {
          setStatus('Diagram belum bisa di-deploy: ' + errors.length + ' kesalahan.', 'error');
        } else {
          checkedXml = xml;
          btnDeploy.disabled = false;
          setStatus('Diagram lolos pemeriksaan' + (warnings.length ? ' dengan ' + warnings.length + ' peringatan' : '') +
                    '. Siap di-deploy.', 'ok');
        }
      });
    }).catch(function (err) { setStatus('Pemeriksaan gagal: ' + err.message, 'error'); });
  }

  function deploy() {
    if (checkedXml === null) { return; }
    btnDeploy.disabled = true;
    setStatus('Men-deploy…');
    post(root.getAttribute('data-deploy-url'), checkedXml).then(function (answer) {
      if (answer.ok) {
        window.location.assign(answer.data.url);
        return;
      }
      showProblems(answer.data.errors || [], answer.data.warnings || []);
      setStatus('Deploy ditolak: ' + (answer.data.error || 'diagram tidak valid') + '. Tidak ada yang tersimpan.', 'error');
    }).catch(function (err) { setStatus('Deploy gagal: ' + err.message, 'error'); });
  }

  function download() {
    modeler.saveXML({ format: true }).then(function (result) {
      var link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([result.xml], { type: 'application/xml' }));
      link.download = filename;
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  function open(xml, name) {
    invalidate();
    resultEl.textContent = '';
    return modeler.importXML(xml).then(function (result) {
      modeler.get('canvas').zoom('fit-viewport', 'auto');
      if (name) { filename = name; }
      root.setAttribute('data-loaded', 'true');
      var warnings = (result && result.warnings) || [];
      setStatus(warnings.length ? 'Diagram dimuat dengan ' + warnings.length + ' catatan dari pembaca BPMN.' :
                'Diagram dimuat. Ubah, lalu periksa.');
    }).catch(function (err) {
      setStatus('Diagram tidak dapat dibuka: ' + err.message, 'error');
    });
  }

  function openFile(event) {
    var file = event.target.files && event.target.files[0];
    if (!file) { return; }
    file.text().then(function (xml) { return open(xml, file.name); });
    event.target.value = '';
  }

  function start(loaded) {
    var templateErrors = (loaded && loaded.errors) || [];
    modeler = new window.BpmnModeler({
      container: '#modeler-canvas',
      propertiesPanel: { parent: '#modeler-panel' },
      elementTemplates: (loaded && loaded.templates) || [],
      additionalModules: [{ translate: ['value', translate] }]
    });
    window.alurModeler = modeler;  // for the browser test and the console
    modeler.on('elementTemplates.errors', function (event) {
      event.errors.forEach(function (err) { templateErrors.push('template tidak valid: ' + err.message); });
    });
    installFormBehaviour();
    modeler.on('commandStack.changed', function () {
      if (checkedXml !== null || root.getAttribute('data-checked')) {
        invalidate();
        root.removeAttribute('data-checked');
        setStatus('Diagram berubah: periksa lagi sebelum deploy.');
      }
    });
    btnCheck.addEventListener('click', check);
    btnDeploy.addEventListener('click', deploy);
    document.getElementById('btn-download').addEventListener('click', download);
    document.getElementById('open-file').addEventListener('change', openFile);
    return fetch(root.getAttribute('data-xml-url'), { credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) { throw new Error('HTTP ' + response.status); }
        return response.text();
      })
      .then(function (xml) { return open(xml); })
      .then(function () {
        if (templateErrors.length) { setStatus(templateErrors.join('; '), 'error'); }
      });
  }

  if (typeof window.BpmnModeler !== 'function') {
    setStatus('Modeler tidak tersedia: pustaka camunda-bpmn-js tidak ada di server (npm ci).', 'error');
    return;
  }
  fetch(root.getAttribute('data-templates-url'), { credentials: 'same-origin' })
    .then(function (response) { return response.ok ? response.json() : { templates: [], errors: ['template tidak dapat dimuat'] }; })
    .then(start)
    .catch(function (err) { setStatus('Modeler gagal dimuat: ' + err.message, 'error'); });
}());
