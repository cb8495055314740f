# Turn the opening comment of each cmd_<name>.c into HELP_<name> (the text
# after the first line, printed by --help) and SUMMARY_<name> (the first
# line after "name - "), so the help text lives in one place, as in toybox.
function esc(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	return s
}
FNR == 1 {
	name = FILENAME
	sub(/.*cmd_/, "", name)
	sub(/\.c$/, "", name)
	inside = ($0 ~ /^\/\* /)
	summary = $0
	sub(/^\/\* [^ ]+ - /, "", summary)
	text = ""
	next
}
inside && /^ \*\// {
	printf "#define SUMMARY_%s \"%s\"\n", name, esc(summary)
	printf "#define HELP_%s \\\n\"%s\"\n", name, text
	inside = 0
	next
}
inside {
	line = $0
	sub(/^ \* ?/, "", line)
	text = text esc(line) "\\n\" \\\n\""
}
