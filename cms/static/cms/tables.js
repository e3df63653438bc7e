// Each cell of a list table carries its column's name (data-label), which the phone layout shows above the
// cell's content (trialdocs.css, max-width 40rem). A static file: the Content-Security-Policy refuses inline
// scripts. Without it the phone layout still fits the screen, only without the column names.
document.querySelectorAll("table.list").forEach(function (table) {
  var headers = table.querySelectorAll("thead tr:last-child th");
  if (!headers.length) { return; }
  var names = [];
  headers.forEach(function (th) {
    var span = parseInt(th.getAttribute("colspan") || "1", 10);
    for (var i = 0; i < span; i++) { names.push(th.textContent.trim()); }
  });
  table.querySelectorAll("tbody tr").forEach(function (row) {
    var column = 0;
    Array.prototype.forEach.call(row.children, function (cell) {
      var name = names[column];
      if (name && !cell.hasAttribute("data-label") && cell.getAttribute("colspan") === null) {
        cell.setAttribute("data-label", name);
      }
      column += parseInt(cell.getAttribute("colspan") || "1", 10);
    });
  });
});
