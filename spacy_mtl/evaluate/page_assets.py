"""The report page's inline style sheet and script: no CDN, nothing fetched, works offline.

The script only filters the error browser: it reads each entry's data attributes
(JSON, parsed, never evaluated) and hides the entries that do not match.
"""

CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}
th{background:#f2f2f2}
.figures{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.error{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:8px 0}
.error .meta{color:#555;font-size:.9em}
.wrong{color:#ca0020;font-weight:600}.right{color:#1a7f37}
.label{display:inline-block;width:13em;color:#777;font-size:.85em}
.filters{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #eee}
.side{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.note{color:#666;font-size:.9em}
"""

JS = """
(function(){
  var intent=document.getElementById('intent-filter');
  var slot=document.getElementById('slot-filter');
  var kind=document.getElementById('kind-filter');
  var count=document.getElementById('shown-count');
  if(!intent){return;}
  function apply(){
    var shown=0, entries=document.querySelectorAll('#errors .error');
    entries.forEach(function(el){
      var intents=JSON.parse(el.getAttribute('data-intents'));
      var slots=JSON.parse(el.getAttribute('data-slots'));
      var kinds=JSON.parse(el.getAttribute('data-kinds'));
      var ok=(intent.value===''||intents.indexOf(intent.value)>=0)
        &&(slot.value===''||slots.indexOf(slot.value)>=0)
        &&(kind.value===''||kinds.indexOf(kind.value)>=0);
      el.style.display=ok?'':'none';
      if(ok){shown++;}
    });
    count.textContent=shown+' of '+entries.length+' shown';
  }
  [intent,slot,kind].forEach(function(s){s.addEventListener('change',apply);});
  apply();
})();
"""
