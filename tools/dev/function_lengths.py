#!/usr/bin/env python3
"""Function lengths and file sizes of the C++ sources (issue 16, "no function over 80 lines").

Usage: tools/dev/function_lengths.py [--max N] [--all] [DIR ...]   (default: lib daemon, N = 80)

Method (a heuristic, good enough for this code base, not a C++ parser):
- Every *.cpp under the given directories is read; comments, string literals (raw strings
  included) and character literals are blanked out first, keeping the line structure.
- Braces are matched. A `{` opens a *function body* when it is not nested in another function
  body and the text before it (back to the previous `;`, `{` or `}`) ends in `)`, optionally
  followed by qualifiers (const, noexcept, override, final, mutable, a trailing return type,
  a constructor's member-initialiser list, `-> T`). Namespace, class, struct, enum and
  initialiser braces do not count. Lambdas and blocks inside a function belong to it.
- A function's length is the number of lines from the line holding its name to the line of
  its closing brace, both included (blank and comment lines count: it is what a reader scrolls).
- The name reported is the last identifier (with `::` qualifiers) before the opening `(`.

Output: each function over the limit (file:line, lines, name), then the line count of every
file (with --all, or only files holding a long function otherwise), then totals.
Exit status is 0; this reports, it does not judge (declarative tables are allowed to be long).
"""

import argparse
import os
import re
import sys

_CONTROL = {"if", "for", "while", "switch", "catch", "return", "sizeof", "alignof", "decltype",
            "static_assert", "defined", "requires", "co_return", "co_await", "co_yield"}
_QUALIFIERS = re.compile(
    r"\)\s*(?:const|noexcept(?:\([^()]*\))?|override|final|mutable|&&|&|\s)*"
    r"(?:->\s*[\w:<>,\s*&]+?)?\s*$", re.S)


def strip(text):
    """Blanks comments and literals, keeping newlines so line numbers stay right."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == 'R' and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_')):
            k = text.find("(", i + 2)
            delim = text[i + 2:k]
            end = text.find(")" + delim + '"', k)
            j = n if end < 0 else end + len(delim) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * max(0, j - i - 2) + (c if j - i >= 2 else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """Yields (name, first_line, last_line) of each top-level function body in `path`."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = strip(f.read())
    stack = []  # (kind, name, start_line) per open brace; kind "fn" or "other"
    last_break = 0
    line = 1
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        elif c == "{":
            head = text[last_break:i]
            in_fn = any(k == "fn" for k, _, _ in stack)
            name, start = None, line
            if not in_fn and _QUALIFIERS.search(_drop_init_list(head)):
                name, start = _name(head, text, last_break)
            if name and name not in _CONTROL:
                stack.append(("fn", name, start))
            else:
                stack.append(("other", None, line))
            last_break = i + 1
        elif c == "}":
            if stack:
                kind, name, start = stack.pop()
                if kind == "fn":
                    yield name, start, line
            last_break = i + 1
        elif c == ";":
            last_break = i + 1


def _drop_init_list(head):
    """`Ctor(args) : a_(x), b_{y}` -> `Ctor(args)`: the initialiser list follows a `) :`."""
    depth = 0
    for j, c in enumerate(head):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == ":" and depth == 0 and not head.startswith("::", j) and head[j - 1] != ":":
            before = head[:j].rstrip()
            if before.endswith(")"):
                return before
    return head


def _name(head, text, offset):
    """Name before the parameter list's `(` and the line it is on."""
    head_nl = _drop_init_list(head)
    depth = 0
    for j in range(len(head_nl) - 1, -1, -1):
        c = head_nl[j]
        if c == ")":
            depth += 1
        elif c == "(":
            depth -= 1
            if depth == 0:
                m = re.search(r"([~\w:]+(?:<[^<>]*>)?|operator\s*\S+)\s*$", head_nl[:j])
                if not m:
                    return None, 0
                name = m.group(1).strip()
                start = text.count("\n", 0, offset + m.start(1)) + 1
                return name, start
    return None, 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="*", default=["lib", "daemon"])
    ap.add_argument("--max", type=int, default=80, help="report functions longer than this")
    ap.add_argument("--all", action="store_true", help="list every file's line count")
    args = ap.parse_args()
    long_fns, sizes = [], []
    for d in args.dirs:
        for root, _, files in os.walk(d):
            for fname in sorted(files):
                if not fname.endswith(".cpp"):
                    continue
                path = os.path.join(root, fname)
                with open(path, encoding="utf-8", errors="replace") as f:
                    sizes.append((path, sum(1 for _ in f)))
                for name, first, last in functions(path):
                    length = last - first + 1
                    if length > args.max:
                        long_fns.append((path, first, length, name))
    long_fns.sort()
    print(f"functions over {args.max} lines: {len(long_fns)}")
    for path, first, length, name in long_fns:
        print(f"  {path}:{first}: {length} lines  {name}")
    with_long = {p for p, _, _, _ in long_fns}
    print("file lines:")
    for path, n in sorted(sizes):
        if args.all or path in with_long:
            print(f"  {path}: {n}")
    print(f"{len(sizes)} files, {sum(n for _, n in sizes)} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
