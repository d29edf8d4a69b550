// Keeps the C++ blocks of README.md and docs/ true: each one must be marked
// `<!-- snippet: NAME -->` and be, line for line, the region NAME of one of the snippet
// sources, which the build compiles. A doc block that no longer compiles thus fails the
// build, and one edited in the doc alone fails this check.
//
//   check_snippets DOC.md... -- SOURCE.cpp...
//
// In a source, `// [snippet NAME]` opens a region and `// [end]` closes it; lines between
// `// [hide]` and `// [show]` are compiled but not shown (the scaffolding a fragment needs).
// Regions may nest (a doc showing part of another doc's block). Each shown stretch is
// compared without its common indentation, so a fragment may sit inside a function.
#include <algorithm>
#include <cstddef>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

struct line {
    std::string text;
    std::size_t number = 0;
};

struct snippet {
    std::string file;
    std::vector<line> lines;
};

int errors = 0;

void report(const std::string& file, std::size_t number, const std::string& message) {
    std::cerr << file << ':' << number << ": " << message << '\n';
    ++errors;
}

std::vector<std::string> read_lines(const std::string& file) {
    std::ifstream in{file};
    if (!in) {
        report(file, 0, "cannot be read");
        return {};
    }
    std::vector<std::string> lines;
    for (std::string text; std::getline(in, text);) {
        while (!text.empty() && (text.back() == ' ' || text.back() == '\r'))
            text.pop_back();
        lines.push_back(std::move(text));
    }
    return lines;
}

std::string_view trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(' ');
    return first == std::string_view::npos ? std::string_view{} : text.substr(first);
}

// Removes the indentation the non-blank lines of one shown stretch have in common.
void append_dedented(std::vector<line>& out, std::vector<line> stretch) {
    std::size_t common = std::string::npos;
    for (const auto& l : stretch)
        if (!l.text.empty())
            common = std::min(common, l.text.find_first_not_of(' '));
    for (auto& l : stretch) {
        if (!l.text.empty())
            l.text.erase(0, common);
        out.push_back(std::move(l));
    }
}

void read_snippets(const std::string& file, std::map<std::string, snippet>& snippets) {
    struct region {
        std::string name;
        std::size_t opened_at = 0;
        bool hidden = false;
        std::vector<line> stretch;  // shown lines not yet dedented
    };
    std::vector<region> open;  // innermost last
    const auto lines = read_lines(file);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto text = trimmed(lines[i]);
        const auto number = i + 1;
        if (text.starts_with("// [snippet ") && text.ends_with("]")) {
            open.push_back({std::string{text.substr(12, text.size() - 13)}, number, false, {}});
            if (!snippets.emplace(open.back().name, snippet{file, {}}).second)
                report(file, number, "snippet '" + open.back().name + "' is defined twice");
        } else if (text == "// [hide]" || text == "// [show]") {
            if (open.empty())
                report(file, number, std::string{text} + " outside a snippet");
            for (auto& r : open) {  // scaffolding of the inner region is scaffolding of all
                if (!r.hidden)
                    append_dedented(snippets[r.name].lines, std::exchange(r.stretch, {}));
                r.hidden = text == "// [hide]";
            }
        } else if (text == "// [end]") {
            if (open.empty()) {
                report(file, number, "// [end] outside a snippet");
                continue;
            }
            auto& r = open.back();
            append_dedented(snippets[r.name].lines, std::move(r.stretch));
            open.pop_back();
        } else {
            for (auto& r : open)
                if (!r.hidden)
                    r.stretch.push_back({lines[i], number});
        }
    }
    for (const auto& r : open)
        report(file, r.opened_at, "snippet '" + r.name + "' has no // [end]");
}

void check_doc(const std::string& file, std::map<std::string, snippet>& snippets,
               std::set<std::string>& used) {
    const auto lines = read_lines(file);
    constexpr std::string_view marker_open = "<!-- snippet: ", marker_close = " -->";
    std::string_view previous;  // the last non-blank line before the current one
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i] != "```cpp") {
            if (!lines[i].empty())
                previous = lines[i];
            continue;
        }
        const auto fence = i + 1;
        std::vector<std::string> block;
        for (++i; i < lines.size() && lines[i] != "```"; ++i)
            block.push_back(lines[i]);
        if (!previous.starts_with(marker_open) || !previous.ends_with(marker_close)) {
            report(file, fence, "C++ block without a `<!-- snippet: NAME -->` line before it");
            continue;
        }
        const std::string name{previous.substr(
            marker_open.size(), previous.size() - marker_open.size() - marker_close.size())};
        previous = {};
        const auto found = snippets.find(name);
        if (found == snippets.end()) {
            report(file, fence, "no snippet source defines '" + name + "'");
            continue;
        }
        used.insert(name);
        const auto& source = found->second;
        const auto shown = std::min(block.size(), source.lines.size());
        for (std::size_t k = 0; k < shown; ++k) {
            if (block[k] != source.lines[k].text) {
                report(file, fence + 1 + k,
                       "differs from " + source.file + ':' +
                           std::to_string(source.lines[k].number) + "\n  doc:    " + block[k] +
                           "\n  source: " + source.lines[k].text);
                break;
            }
        }
        if (block.size() != source.lines.size())
            report(file, fence,
                   "snippet '" + name + "' has " + std::to_string(source.lines.size()) +
                       " lines in " + source.file + ", the doc " + std::to_string(block.size()));
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    const auto separator = std::find(args.begin(), args.end(), "--");
    if (separator == args.begin() || separator == args.end() || separator + 1 == args.end()) {
        std::cerr << "usage: check_snippets DOC.md... -- SOURCE.cpp...\n";
        return 2;
    }
    std::map<std::string, snippet> snippets;
    for (auto source = separator + 1; source != args.end(); ++source)
        read_snippets(*source, snippets);
    std::set<std::string> used;
    for (auto doc = args.begin(); doc != separator; ++doc)
        check_doc(*doc, snippets, used);
    for (const auto& [name, source] : snippets)
        if (!used.contains(name))
            report(source.file, source.lines.empty() ? 0 : source.lines.front().number,
                   "snippet '" + name + "' is shown in no doc");
    if (errors == 0)
        std::cout << snippets.size() << " snippets match their docs\n";
    return errors == 0 ? 0 : 1;
}
