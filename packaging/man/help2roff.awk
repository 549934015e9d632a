# SPDX-License-Identifier: MIT
# Turns a program's --help text (standard input) into man(7) markup, for
# packaging/man/mkman.sh. mode=options: the option list (lines "  -x, --opt=ARG
# text", continued by lines indented deeper) as .TP paragraphs; mode=exit: the
# "Exit codes:" table ("N text", columns two or more spaces apart) as .TP
# paragraphs; mode=verbatim: the text as it is, in no-fill mode.

# Text as roff reads it: backslashes escaped, the hyphens of an option (a word
# that starts with "-") made minus signs, to be copied as typed (those in other
# words, "D-Bus", stay hyphens), a leading control character made text.
function esc(s,    out, i, c, prev, opt) {
        gsub(/\\/, "\\e", s)
        out = ""
        prev = " "
        opt = 0
        for (i = 1; i <= length(s); i++) {
                c = substr(s, i, 1)
                if (c == "-" && index(" [|(,=`", prev))
                        opt = 1 # an option: up to the next blank
                else if (c == " ")
                        opt = 0
                out = out (c == "-" && opt ? "\\-" : c)
                prev = c
        }
        if (out ~ /^[.']/)
                out = "\\&" out
        return out
}

function flush() {
        if (tag == "")
                return
        print ".TP"
        print "\\fB" esc(tag) "\\fR"
        if (desc != "")
                print esc(desc)
        tag = desc = ""
}

mode == "options" && /^  -/ {
        flush()
        line = substr($0, 3)
        if (match(line, /   */)) {
                tag = substr(line, 1, RSTART - 1)
                desc = substr(line, RSTART + RLENGTH)
        } else {
                tag = line
        }
        next
}
mode == "options" && /^   +[^ ]/ && tag != "" {
        s = $0
        sub(/^ +/, "", s)
        desc = desc (desc == "" ? "" : " ") s
        next
}
mode == "options" {
        flush()
        next
}

mode == "exit" && /^Exit codes:/ {
        inexit = 1
        next
}
mode == "exit" && inexit && /^ / {
        line = $0
        sub(/^ +/, "", line)
        n = split(line, cols, /   */)
        for (i = 1; i <= n; i++) {
                split(cols[i], w, " ")
                tag = w[1]
                desc = substr(cols[i], length(w[1]) + 2)
                flush()
        }
        next
}
mode == "exit" {
        inexit = 0
        next
}

mode == "verbatim" {
        print esc($0)
}

END {
        flush()
}
