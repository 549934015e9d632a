// SPDX-License-Identifier: MIT
// A person's unsaved edits across a form's rebuild. A settings card
// rebuilds its forms from the Config property when Config changes (its own
// save landing, vmctl, another page); a value typed meanwhile into a field
// whose setting did not change must survive, or the next Save sends the
// configuration's old value instead (a race the page test met: a disk's
// maximum IOPS landed and rebuilt the row just after its minimum was typed).
// A field whose setting did change underneath shows the new value: the
// edit was made against a value that is gone.
//
// Each map is key -> value as text (a checkbox's "true"/"false"):
// built, what the last build put in the fields; now, what they hold; next,
// what the new build put. Returns the keys to set back, with their values.
export function carriedEdits(built, now, next) {
    const keep = new Map();
    for (const [key, value] of now) {
        if (!built.has(key) || value === built.get(key))
            continue;
        if (next.has(key) && next.get(key) === built.get(key))
            keep.set(key, value);
    }
    return keep;
}

// A form control's key (its name, and which of the controls with that name
// it is) and value, for carriedEdits.
export function controlValues(controls) {
    const seen = new Map(), out = new Map(), els = new Map();
    for (const el of controls) {
        const n = seen.get(el.name) || 0;
        seen.set(el.name, n + 1);
        const key = `${el.name}#${n}`;
        out.set(key, el.type === "checkbox" || el.type === "radio" ? String(el.checked) : String(el.value));
        els.set(key, el);
    }
    return { values: out, els };
}
