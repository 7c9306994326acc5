/* Rows editor of the tariff admin (tariffs/admin_forms.py RowsWidget): add and remove table rows.
   Vanilla JS, no dependencies. Inputs are named <base>-<row>-<key>; <base>-count holds the number of rows.
   Event delegation, so it also works in element forms added with Django's "Add another" link. */
(function () {
  "use strict";

  function countInput(container) {
    return container.querySelector("input.rows-count");
  }

  function addRow(container) {
    var count = countInput(container);
    var base = count.name.slice(0, -"-count".length);
    var rows = container.querySelectorAll("tr.rows-row");
    var last = rows[rows.length - 1];
    var index = parseInt(count.value, 10) || rows.length;
    var clone = last.cloneNode(true);
    var pattern = new RegExp("^(id_)?" + base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "-\\d+-");
    clone.querySelectorAll("input, select, textarea").forEach(function (el) {
      ["name", "id"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value) {
          el.setAttribute(attr, value.replace(pattern, function (match, prefix) {
            return (prefix || "") + base + "-" + index + "-";
          }));
        }
      });
      if (el.tagName === "SELECT") {
        el.selectedIndex = 0;
      } else if (el.type === "checkbox" || el.type === "radio") {
        el.checked = false;
      } else {
        el.value = "";
      }
    });
    clone.hidden = false;
    last.parentNode.appendChild(clone);
    count.value = index + 1;
  }

  function removeRow(row) {
    /* Emptied rows are ignored by the server; hiding keeps the row numbering of the other rows. */
    row.querySelectorAll("input, select, textarea").forEach(function (el) {
      if (el.tagName === "SELECT") {
        el.selectedIndex = 0;
      } else if (el.type === "checkbox" || el.type === "radio") {
        el.checked = false;
      } else {
        el.value = "";
      }
    });
    row.hidden = true;
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }
    if (target.classList.contains("rows-add")) {
      event.preventDefault();
      addRow(target.closest(".rows-field"));
    } else if (target.classList.contains("rows-remove")) {
      event.preventDefault();
      removeRow(target.closest("tr"));
    }
  });
})();
