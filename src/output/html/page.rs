//! The HTML document every report page shares: one inline `<style>`, one inline `<script>`, and a
//! Content-Security-Policy that lets the page fetch nothing at all (no script, style, font or image
//! from anywhere; only inline code and `data:` images), so it opens offline and never calls home.
//! Text goes through [`esc`] wherever it enters the page, so a model name or an error message
//! cannot inject markup.
//!
//! The script does two things, and the page reads fully without it: a tooltip that follows the
//! mouse over a chart's point and shows the point's `data-tip` rows (`name<TAB>value` lines, built
//! with `textContent`, never parsed as HTML), and the legends' buttons, which hide or show their
//! series (`svg.rs` gives each series the class its button names in `data-s`). Having set both up,
//! it marks the document `data-script="ran"`, which the browser test looks for.

/// The policy: nothing may be fetched; inline style and script only; images only from `data:`.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

/// `s` with `& < > " '` escaped, safe in text and in quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole document: `title` (escaped) and `body` (HTML already built and escaped).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style></head>\n<body>\n{body}<div id=\"tip\" hidden></div>\n<script>{SCRIPT}</script>\n</body></html>\n",
        esc(title)
    )
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:24px auto;max-width:1560px;padding:0 16px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;margin:0 0 12px}
pre{background:#f6f8fa;padding:10px 12px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.pass{color:#00963c}.warn{color:#c86400}.fail{color:#d62728}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:4px 0 12px}
th,td{padding:4px 9px;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
th{background:#f3f4f6;position:sticky;top:0}th:first-child,td:first-child{text-align:left}
td.l{text-align:left;white-space:normal;min-width:24em}
.wrap{overflow-x:auto}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(620px,1fr));gap:18px}
figure.chart{margin:0;border:1px solid #e3e3e3;border-radius:6px;padding:8px}
figcaption{font-weight:600;margin:0 0 4px}
svg{width:100%;height:auto;display:block;font-size:11px}
svg text{stroke:none}.axis text{fill:#333}
.axis .grid{stroke:#000;stroke-opacity:.08}.axis .frame{fill:none;stroke:#999}.axis .name{font-size:12px}
.mark text{font-size:11px;font-weight:600}
text.note{fill:#888;font-size:13px}text.label{font-size:10px}
circle{stroke:#fff;stroke-width:1}circle:hover{stroke:#000;stroke-width:2}
.off{display:none}
.legend{display:flex;flex-wrap:wrap;gap:4px 6px;margin-top:4px}
.legend button{font:inherit;font-size:12px;border:1px solid #ccc;background:#fff;border-radius:4px;padding:2px 8px;cursor:pointer}
.legend button[aria-pressed=false]{opacity:.45;text-decoration:line-through}
.sw{display:inline-block;width:16px;border-top:3px solid;margin:0 6px 3px 0;vertical-align:middle}.sw.dashed{border-top-style:dashed}
#tip{position:fixed;pointer-events:none;background:rgba(255,255,255,.97);border:1px solid #999;border-radius:4px;padding:4px 8px;font-size:12px;box-shadow:0 2px 8px rgba(0,0,0,.15);z-index:9}
#tip td{border:0;padding:1px 6px}#tip tr:first-child td{font-weight:600}
"#;

const SCRIPT: &str = r#"
(function(){
var tip=document.getElementById('tip');
function place(e){
  var w=tip.offsetWidth,h=tip.offsetHeight,x=e.clientX+14,y=e.clientY+14;
  if(x+w>window.innerWidth){x=e.clientX-w-14}
  if(y+h>window.innerHeight){y=e.clientY-h-14}
  tip.style.left=Math.max(0,x)+'px';tip.style.top=Math.max(0,y)+'px';
}
document.addEventListener('mouseover',function(e){
  var t=e.target,d=t&&t.getAttribute?t.getAttribute('data-tip'):null;
  if(d===null){tip.hidden=true;return}
  while(tip.firstChild){tip.removeChild(tip.firstChild)}
  var tb=document.createElement('table');
  d.split('\n').forEach(function(row){
    var tr=document.createElement('tr');
    row.split('\t').forEach(function(cell){var td=document.createElement('td');td.textContent=cell;tr.appendChild(td)});
    tb.appendChild(tr);
  });
  tip.appendChild(tb);tip.hidden=false;place(e);
});
document.addEventListener('mousemove',function(e){if(!tip.hidden){place(e)}});
document.addEventListener('click',function(e){
  var b=e.target&&e.target.closest?e.target.closest('button[data-s]'):null;
  if(!b){return}
  var on=b.getAttribute('aria-pressed')!=='false',f=b.closest('figure');
  b.setAttribute('aria-pressed',on?'false':'true');
  if(f){f.querySelectorAll('g.'+b.getAttribute('data-s')).forEach(function(g){g.classList.toggle('off',on)})}
});
document.documentElement.setAttribute('data-script','ran');
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        let p = page("a <b> model", "<p>body</p>");
        assert!(p.contains("<title>a &lt;b&gt; model</title>"));
        assert!(p.contains("<p>body</p>"));
    }

    #[test]
    fn the_page_can_fetch_nothing() {
        let p = page("t", "");
        assert!(p.contains(&format!("content=\"{CSP}\"")));
        assert!(p.contains("default-src 'none'"));
        for bad in ["http://", "https://", "src=", "href=", "@import", "url("] {
            assert!(!p.contains(bad), "{bad} in the page");
        }
        // One style and one script, both inline.
        assert_eq!(p.matches("<style>").count(), 1);
        assert_eq!(p.matches("<script>").count(), 1);
    }
}
