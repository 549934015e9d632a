// SPDX-License-Identifier: MIT
// A few DOM helpers in PatternFly 6's markup: elements are built with
// textContent only (names and messages from vmms are never parsed as HTML).

// h("div", {class: "x", onclick: fn, "aria-label": "y"}, child, "text", ...)
export function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false)
            continue;
        if (k.startsWith("on"))
            el.addEventListener(k.slice(2), v);
        else if (k === "class")
            el.className = v;
        else
            el.setAttribute(k, v === true ? "" : String(v));
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children.flat()) {
        if (c === undefined || c === null || c === false)
            continue;
        el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

export function replace(el, ...children) {
    el.replaceChildren();
    append(el, children);
}

export function label(text, color, attrs = {}) {
    return h("span", { class: `pf-v6-c-label pf-m-${color} pf-m-compact`, ...attrs },
             h("span", { class: "pf-v6-c-label__content" }, h("span", { class: "pf-v6-c-label__text" }, text)));
}

// A button: kind is primary, secondary, danger, link or plain.
export function button(text, kind, onclick, attrs = {}) {
    const cls = kind === "danger" ? "pf-m-danger pf-m-secondary" : `pf-m-${kind}`;
    return h("button", { class: `pf-v6-c-button ${cls} pf-m-small`, type: "button", onclick, ...attrs },
             h("span", { class: "pf-v6-c-button__text" }, text));
}

// A description list of [term, value] pairs (value: text or a node).
export function descriptionList(pairs, extra = "") {
    return h("dl", { class: `pf-v6-c-description-list pf-m-horizontal pf-m-compact ${extra}` },
             pairs.filter(p => p).map(([term, value]) =>
                 h("div", { class: "pf-v6-c-description-list__group" },
                   h("dt", { class: "pf-v6-c-description-list__term" },
                     h("span", { class: "pf-v6-c-description-list__text" }, term)),
                   h("dd", { class: "pf-v6-c-description-list__description" },
                     h("div", { class: "pf-v6-c-description-list__text" }, value === "" ? "—" : value)))));
}

export function card(title, ...body) {
    return h("section", { class: "pf-v6-c-card", "aria-label": title },
             h("div", { class: "pf-v6-c-card__title" }, h("h2", { class: "pf-v6-c-card__title-text" }, title)),
             h("div", { class: "pf-v6-c-card__body" }, ...body));
}

// A table in PatternFly's grid mode: below the md breakpoint each row is
// shown as a stack of "label: value" lines (td data-label).
export function table(ariaLabel, columns) {
    const tbody = h("tbody", { class: "pf-v6-c-table__tbody" });
    const t = h("table", { class: "pf-v6-c-table pf-m-grid-md pf-m-compact", role: "grid", "aria-label": ariaLabel },
                h("thead", { class: "pf-v6-c-table__thead" },
                  h("tr", { class: "pf-v6-c-table__tr" },
                    columns.map(c => h("th", { class: "pf-v6-c-table__th pf-m-wrap", scope: "col" }, c)))),
                tbody);
    return { table: t, tbody };
}

export function cell(col, ...content) {
    return h("td", { class: "pf-v6-c-table__td", "data-label": col }, ...content);
}
