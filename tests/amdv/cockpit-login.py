#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Headless Chromium for tests/amdv/cockpit.sh: logs in to the real
cockpit.socket (cockpit-tls, cockpit-ws, cockpit-session's PAM login) on
the emulated AMD-V host and opens the vmstack page, with the DevTools code
and the page's selectors of tests/integration/cockpit-browser.py.

usage: cockpit-login.py CHROMIUM URL OUT_DIR USER PASSWORD VM member|refused
URL is cockpit's root (https://127.0.0.1:9090). Steps: the login page,
USER and PASSWORD typed and sent (a refused login fails with the page's
message); Cockpit's shell at URL/vmstack shows the page in its frame with
VM's row; the page alone (URL/cockpit/@localhost/vmstack/index.html)
lists VM, Off. member: no alert, no JavaScript error. refused (a user
outside the vmstack group): the page is read-only with vmms's reason
(GetCallerAccess: a banner that says why, VM's Start and every other
button that would change something disabled), no alert, and VM stays
Off (cockpit.sh has vmms refuse the same user's Start itself).
Screenshots of each step in OUT_DIR, named after USER.
Exit 0 when all passed, 1 on the first failure (said on stderr)."""
import importlib.util
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cb = load("cockpit_browser", os.path.join(HERE, "..", "integration", "cockpit-browser.py"))
display_browser = cb.cdp_session.display_browser
Failed = cb.Failed
# Every page of Chromium and Cockpit is translated by QEMU's TCG there:
# steps that take a second here take a minute.
SLOW = 180


def note(s):
    print("--- browser: " + s, flush=True)


def chromium_log(profile, out):
    """Chromium's own stderr (display-browser.py keeps it in the profile,
    which stop() removes): its last lines here, the whole of it beside the
    screenshots, for a browser that went away mid-test."""
    path = os.path.join(profile, "chromium.log")
    if not os.path.exists(path):
        return
    text = open(path, errors="replace").read()
    with open(os.path.join(out, "chromium.log"), "w") as f:
        f.write(text)
    for line in text.strip().splitlines()[-15:]:
        print("chromium: " + line, file=sys.stderr)


def login(p, url, user, password, tag):
    note("the login page at %s" % url)
    p.dt.call("Page.navigate", {"url": url})
    p.wait("the login page", "document.querySelector('#login-user-input') !== null", SLOW)
    p.size(1280, 800)
    p.shot(tag + "-login", full=False)
    note("logging in as %s" % user)
    p.set_input("#login-user-input", user)
    p.set_input("#login-password-input", password)
    p.click_sel("#login-button")
    # The shell replaces the login page; a refusal shows its message.
    p.wait("the shell after the login (or the login's error)",
           "location.pathname !== '/' || (document.querySelector('#login-error-message') &&"
           " document.querySelector('#login-error-message').innerText.trim() !== '') ||"
           " document.querySelectorAll('iframe').length > 0", SLOW)
    err = p.js("(document.querySelector('#login-error-message') || {innerText: ''}).innerText.trim()")
    if err and p.js("document.querySelector('#login-user-input') !== null && "
                    "document.querySelector('#login-user-input').offsetParent !== null"):
        p.shot(tag + "-login-refused")
        raise Failed("the login as %s was refused: %s" % (user, err))


def shell_frame(p, url, vm, tag):
    note("Cockpit's shell at %s/vmstack shows the page with %s" % (url, vm))
    p.dt.call("Page.navigate", {"url": url + "/vmstack"})
    row = ("[...document.querySelectorAll('iframe')].some(f => f.contentDocument && "
           "f.contentDocument.querySelector('tr[data-name=%s]') !== null)" % json.dumps(vm))
    p.wait("the page in the shell's frame with %s's row" % vm, row, SLOW)
    if not p.js("[...document.querySelectorAll('a')].some(a => a.innerText.trim() === 'vmstack VMs')"):
        raise Failed("the shell's menu has no 'vmstack VMs'")
    p.shot(tag + "-shell")


def page_alone(p, url, vm, want, tag):
    note("the page alone: %s in the list, Off" % vm)
    p.dt.call("Page.navigate", {"url": url + "/cockpit/@localhost/vmstack/index.html"})
    p.wait("%s's row" % vm, p.row(vm), SLOW)
    p.wait("%s Off" % vm, p.state_is(vm, "Off"), 30)
    p.shot(tag + "-list", full=False)
    if want == "member":
        p.no_alerts("the list as a member of vmstack")
        return
    note("a user outside the vmstack group: the page read-only, with vmms's reason")
    p.wait("the read-only banner", "document.querySelector('.vmstack-readonly') && "
           "!document.querySelector('.vmstack-readonly').hidden", 60)
    text = " ".join(p.js("document.querySelector('.vmstack-readonly').innerText").split())
    print("  the banner: %s" % text, flush=True)
    if "Read-only" not in text or "may not" not in text:
        raise Failed("the read-only banner does not say why: %r" % text)
    enabled = p.js(cb.ENABLED_MANAGING)
    if enabled:
        raise Failed("buttons that change something are enabled for %s: %s" % (tag, enabled))
    if not p.js("%s.querySelector('button[data-action=\"start\"]').disabled" % p.row(vm)):
        raise Failed("%s's Start is not disabled" % vm)
    p.shot(tag + "-read-only", full=False)
    p.no_alerts("the read-only list")
    if not p.js(p.state_is(vm, "Off")):
        raise Failed("%s is not Off" % vm)
    p.check_errors("the read-only page")


def main():
    if len(sys.argv) != 8 or sys.argv[7] not in ("member", "refused"):
        print(__doc__, file=sys.stderr)
        return 2
    chromium, url, out, user, password, vm, want = sys.argv[1:8]
    url = url.rstrip("/")
    profile = tempfile.mkdtemp(prefix="cockpit-login.")
    browser = {}

    def run():
        note("starting %s" % chromium)
        browser["proc"], ws_url = display_browser.start(chromium, profile, url.startswith("https:"), SLOW)
        dt = display_browser.DevTools(ws_url, SLOW)
        dt.call("Page.enable")
        dt.call("Page.addScriptToEvaluateOnNewDocument", {"source": cb.PAGE_HOOK})
        p = cb.Page(dt, out)
        login(p, url, user, password, user)
        shell_frame(p, url, vm, user)
        page_alone(p, url, vm, want, user)
        print("browser: all steps passed as %s (%s)" % (user, want), flush=True)

    try:
        return cb.run_steps("cockpit-login", run, lambda: chromium_log(profile, out))
    finally:
        display_browser.stop(browser.get("proc"), profile)

if __name__ == "__main__":
    sys.exit(main())
