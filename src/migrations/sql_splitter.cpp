// split_sql_script(): a small lexer that knows where a statement cannot end.
#include <asio_soci/errors.hpp>
#include <asio_soci/migrations.hpp>

#include <algorithm>
#include <cctype>
#include <string>

namespace asio_soci {

namespace {

bool is_word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool is_space(char c) {
    return std::isspace(static_cast<unsigned char>(c));
}

std::string upper(std::string_view word) {
    std::string result(word);
    std::ranges::transform(result, result.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return result;
}

class script_splitter {
public:
    script_splitter(std::string_view script, backend dialect) : s_(script), dialect_(dialect) {}

    std::vector<sql_statement> split() {
        while (i_ < s_.size()) {
            const char c = s_[i_];
            const char next = i_ + 1 < s_.size() ? s_[i_ + 1] : '\0';
            if (c == '\n') {
                ++line_;
                ++i_;
            } else if (is_space(c)) {
                ++i_;
            } else if (c == '-' && next == '-') {
                skip_line_comment();
            } else if (c == '#' && dialect_ == backend::mysql) {
                skip_line_comment();
            } else if (c == '/' && next == '*') {
                skip_block_comment();
            } else if (c == ';' && body_depth_ == 0) {
                end_statement();
                ++i_;
            } else {
                start_code();
                lex_code(c);
            }
        }
        if (body_depth_ > 0)
            fail("unterminated BEGIN ... END body", body_line_);
        end_statement();
        return std::move(out_);
    }

private:
    [[noreturn]] void fail(const std::string& what, std::size_t line) const {
        throw migration_error("SQL script: " + what + " starting at line " + std::to_string(line));
    }

    void start_code() {
        if (!in_statement_) {
            in_statement_ = true;
            begin_ = i_;
            begin_line_ = line_;
        }
        end_ = i_ + 1;
    }

    void end_statement() {
        if (in_statement_)
            out_.push_back({std::string(s_.substr(begin_, end_ - begin_)), begin_line_});
        in_statement_ = false;
        words_.clear();
        body_depth_ = 0;
    }

    // Advances past s_[from, to), counting lines.
    void advance_to(std::size_t to) {
        line_ += static_cast<std::size_t>(std::count(s_.begin() + static_cast<std::ptrdiff_t>(i_),
                                                     s_.begin() + static_cast<std::ptrdiff_t>(to),
                                                     '\n'));
        i_ = to;
    }

    void skip_line_comment() {
        auto eol = s_.find('\n', i_);
        i_ = eol == std::string_view::npos ? s_.size() : eol;
    }

    void skip_block_comment() {
        const std::size_t start_line = line_;
        int depth = 0;
        std::size_t j = i_;
        while (j < s_.size()) {
            if (s_.compare(j, 2, "/*") == 0) {
                ++depth;
                j += 2;
                if (dialect_ != backend::postgresql && depth > 1)
                    depth = 1;  // only PostgreSQL nests block comments
            } else if (s_.compare(j, 2, "*/") == 0) {
                j += 2;
                if (--depth == 0) {
                    advance_to(j);
                    return;
                }
            } else {
                ++j;
            }
        }
        fail("unterminated /* comment", start_line);
    }

    // A quoted run: 'string', "identifier", `identifier` or [identifier].
    void skip_quoted(char close, bool backslash_escapes, const char* what) {
        const std::size_t start_line = line_;
        std::size_t j = i_ + 1;
        while (j < s_.size()) {
            if (backslash_escapes && s_[j] == '\\') {
                j += 2;
            } else if (s_[j] == close) {
                if (j + 1 < s_.size() && s_[j + 1] == close && close != ']') {
                    j += 2;  // doubled quote
                } else {
                    advance_to(j + 1);
                    end_ = i_;
                    return;
                }
            } else {
                ++j;
            }
        }
        fail(std::string("unterminated ") + what, start_line);
    }

    // PostgreSQL $tag$ ... $tag$; false when s_[i_] does not start a dollar quote.
    bool skip_dollar_quote() {
        std::size_t j = i_ + 1;
        if (j < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[j])) || s_[j] == '_')) {
            while (j < s_.size() && is_word_char(s_[j]))
                ++j;
        }
        if (j >= s_.size() || s_[j] != '$')
            return false;
        const auto tag = s_.substr(i_, j + 1 - i_);
        const auto close = s_.find(tag, j + 1);
        if (close == std::string_view::npos)
            fail("unterminated dollar-quoted string " + std::string(tag), line_);
        advance_to(close + tag.size());
        end_ = i_;
        return true;
    }

    void lex_code(char c) {
        const bool after_word = i_ > 0 && is_word_char(s_[i_ - 1]);
        if (c == '\'') {
            // PostgreSQL E'...' strings take backslash escapes; MySQL's always do.
            const bool escape_string = dialect_ == backend::postgresql && i_ > 0 &&
                                       (s_[i_ - 1] == 'E' || s_[i_ - 1] == 'e') &&
                                       (i_ < 2 || !is_word_char(s_[i_ - 2]));
            skip_quoted('\'', escape_string || dialect_ == backend::mysql, "string");
        } else if (c == '"') {
            skip_quoted('"', dialect_ == backend::mysql, "quoted identifier");
        } else if (c == '`' && dialect_ != backend::postgresql) {
            skip_quoted('`', false, "quoted identifier");
        } else if (c == '[' && dialect_ == backend::sqlite3) {
            skip_quoted(']', false, "quoted identifier");
        } else if (c == '$' && dialect_ == backend::postgresql && !after_word &&
                   skip_dollar_quote()) {
            // skipped
        } else if (is_word_char(c) && !after_word) {
            lex_word();
        } else {
            ++i_;
        }
    }

    void lex_word() {
        std::size_t j = i_;
        while (j < s_.size() &&
               (is_word_char(s_[j]) || (s_[j] == '$' && dialect_ == backend::postgresql)))
            ++j;
        const auto word = upper(s_.substr(i_, j - i_));
        const auto word_line = line_;
        i_ = j;
        end_ = j;
        if (body_depth_ > 0) {
            if (word == "CASE")
                ++body_depth_;
            else if (word == "END")
                --body_depth_;
        } else if (opens_body(word)) {
            body_depth_ = 1;
            body_line_ = word_line;
        }
        if (words_.size() < 8)
            words_.push_back(word);
        previous_word_ = word;
    }

    // Does `word` open a BEGIN ... END body that semicolons do not end?
    bool opens_body(const std::string& word) const {
        auto lead = [&](std::size_t k) -> std::string_view {
            return k < words_.size() ? std::string_view(words_[k]) : std::string_view();
        };
        if (lead(0) != "CREATE")
            return false;
        if (dialect_ == backend::sqlite3 && word == "BEGIN") {
            return lead(1) == "TRIGGER" ||
                   ((lead(1) == "TEMP" || lead(1) == "TEMPORARY") && lead(2) == "TRIGGER");
        }
        if (dialect_ == backend::postgresql && word == "ATOMIC" && previous_word_ == "BEGIN") {
            const std::size_t k = lead(1) == "OR" && lead(2) == "REPLACE" ? 3 : 1;
            return lead(k) == "FUNCTION" || lead(k) == "PROCEDURE";
        }
        return false;
    }

    std::string_view s_;
    backend dialect_;
    std::size_t i_ = 0;
    std::size_t line_ = 1;

    bool in_statement_ = false;
    std::size_t begin_ = 0;           // first code character of the current statement
    std::size_t end_ = 0;             // one past its last code character so far
    std::size_t begin_line_ = 1;      // line of begin_
    std::vector<std::string> words_;  // the statement's first words, upper-cased
    std::string previous_word_;
    int body_depth_ = 0;  // > 0 inside a trigger / BEGIN ATOMIC body (+ open CASEs)
    std::size_t body_line_ = 0;

    std::vector<sql_statement> out_;
};

}  // namespace

std::vector<sql_statement> split_sql_script(std::string_view script, backend dialect) {
    return script_splitter(script, dialect).split();
}

}  // namespace asio_soci
