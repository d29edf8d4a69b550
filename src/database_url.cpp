// Parsing of SQLAlchemy-style database URLs and their translation to SOCI connect strings.
#include <asio_soci/database_url.hpp>

#include <asio_soci/errors.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <utility>
#include <vector>

namespace asio_soci {

namespace {

using std::size_t;

constexpr size_t npos = std::string_view::npos;
constexpr std::string_view masked_secret = "***";

// Shown instead of the detailed reason when the password's extent is ambiguous: the
// detail could name a fragment of the password (a "port" cut out of it, say).
constexpr std::string_view ambiguous_password =
    "malformed or ambiguous; percent-encode '/', '?' and '@' in the user name and password, "
    "and '@' anywhere after them (%2F, %3F, %40)";

// Characters that never need percent-encoding, plus RFC 3986 sub-delimiters.
constexpr std::string_view sub_delimiters = "!$&'()*+,;=";

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_unreserved(char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int hex_value(char c) {
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

template <class... Parts>
std::string concat(const Parts&... parts) {
    std::string out;
    (out.append(std::string_view(parts)), ...);
    return out;
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool contains(std::string_view text, char c) {
    return text.find(c) != npos;
}

void replace_all(std::string& text, std::string_view needle, std::string_view with) {
    if (needle.empty())
        return;
    for (size_t pos = text.find(needle); pos != npos; pos = text.find(needle, pos)) {
        text.replace(pos, needle.size(), with);
        pos += with.size();
    }
}

// [A-Za-z_][A-Za-z0-9_]*
bool is_identifier(std::string_view text) {
    if (text.empty() || is_digit(text.front()))
        return false;
    for (char c : text) {
        if (!is_alpha(c) && !is_digit(c) && c != '_')
            return false;
    }
    return true;
}

// Position of the first '%' not followed by two hex digits, or npos.
size_t find_bad_escape(std::string_view raw) {
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '%')
            continue;
        if (i + 2 >= raw.size() || hex_value(raw[i + 1]) < 0 || hex_value(raw[i + 2]) < 0)
            return i;
    }
    return npos;
}

// Decodes %XX escapes; `raw` must have passed find_bad_escape().
std::string percent_decode(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '%') {
            out += static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
            i += 2;
        } else {
            out += raw[i];
        }
    }
    return out;
}

// Percent-encodes every byte that is neither unreserved nor in `keep`.
std::string percent_encode(std::string_view text, std::string_view keep) {
    constexpr std::string_view kHex = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (is_unreserved(c) || (c != '%' && contains(keep, c))) {
            out += c;
        } else {
            const auto byte = static_cast<unsigned char>(c);
            out += '%';
            out += kHex[byte >> 4];
            out += kHex[byte & 0xF];
        }
    }
    return out;
}

// A value in single quotes with ' and \ backslash-escaped: the quoting of libpq's
// conninfo strings and of SOCI's MySQL connect strings.
std::string single_quote(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\')
            out += '\\';
        out += c;
    }
    out += '\'';
    return out;
}

// SOCI's MySQL parser reads an unquoted value up to the next blank and treats quotes and
// backslashes in it specially; quote only the values that need it.
std::string mysql_value(std::string_view value) {
    bool plain = !value.empty();
    for (char c : value) {
        if (is_space(c) || c == '\'' || c == '\\')
            plain = false;
    }
    return plain ? std::string(value) : single_quote(value);
}

void append_setting(std::string& out, std::string_view key, std::string_view value) {
    if (!out.empty())
        out += ' ';
    out.append(key);
    out += '=';
    out.append(value);
}

struct text_span {
    size_t pos = 0;
    size_t len = 0;
    friend bool operator==(const text_span&, const text_span&) = default;
};

// Where a lenient reading finds the password: from the first ':' after "://" up to the
// last '@'. It errs on the side of masking too much, so error messages can quote even
// a malformed URL (a password with an unencoded '/' or '?') without leaking it.
std::optional<text_span> lenient_password_span(std::string_view url) {
    const size_t at = url.rfind('@');
    if (at == npos)
        return std::nullopt;
    const size_t sep = url.find("://");
    const size_t from = (sep != npos && sep + 3 <= at) ? sep + 3 : 0;
    const size_t colon = url.find(':', from);
    if (colon == npos || colon >= at)
        return std::nullopt;
    return text_span{colon + 1, at - colon - 1};
}

// Query parameters whose values are secrets: "pass" and any key naming a password
// (password, sslpassword, ...).
bool is_secret_key(std::string_view key) {
    const std::string lower = to_lower(key);
    return lower == "pass" || lower.find("password") != npos;
}

// The values of secret query parameters, read leniently (keys decoded where they can
// be, nothing validated), so that an error message can quote the URL before, or
// because, its query fails to parse. The query starts at the first '?' after the
// lenient password, which may itself hold a '?'.
std::vector<text_span> secret_query_spans(std::string_view url,
                                          const std::optional<text_span>& password) {
    std::vector<text_span> spans;
    const size_t sep = url.find("://");
    const size_t from = password ? password->pos + password->len : (sep == npos ? 0 : sep + 3);
    size_t pos = url.find('?', from);
    if (pos == npos)
        return spans;
    for (++pos; pos <= url.size();) {
        const size_t end = std::min(url.find('&', pos), url.size());
        const std::string_view pair = url.substr(pos, end - pos);
        if (const size_t eq = pair.find('='); eq != npos) {
            const std::string_view key = pair.substr(0, eq);
            if (is_secret_key(find_bad_escape(key) == npos ? percent_decode(key)
                                                           : std::string(key)))
                spans.push_back({pos + eq + 1, pair.size() - eq - 1});
        }
        pos = end + 1;
    }
    return spans;
}

// Everything parse() learns, assigned to database_url's private members at the end.
struct url_parts {
    backend kind = backend::sqlite3;
    std::string scheme;
    std::string username;
    std::optional<std::string> password;
    std::string password_raw;
    std::string host;
    std::optional<unsigned short> port;
    std::string database;
    std::map<std::string, std::string> query;
};

// The URL's raw pieces, split without decoding.
struct raw_pieces {
    std::string_view userinfo_user;
    std::optional<std::string_view> userinfo_password;
    bool has_userinfo = false;
    std::string_view authority;             // everything between "://" and the path or query
    std::string_view host_port;             // authority without user info
    std::optional<std::string_view> path;   // after the '/' that ends the authority
    std::optional<std::string_view> query;  // after the first '?'
};

// Builds url_error messages: the URL is quoted with its password masked, and details
// that might contain a fragment of the password are withheld.
class url_reader {
public:
    explicit url_reader(std::string_view url)
        : url_(url),
          lenient_(lenient_password_span(url)),
          secret_values_(secret_query_spans(url, lenient_)) {}

    std::string_view url() const noexcept { return url_; }

    // Records the password span the strict split found (none if no password).
    void set_strict_password(std::optional<text_span> span) {
        strict_ = span;
        split_ = true;
    }

    // Refuses a URL whose lenient and strict readings disagree on the password, such as
    // "u:1?x=y@h/db" (host u, port 1 and a query, or password "1?x=y"): whichever reading
    // is right, to_string() could show a password.
    void require_unambiguous() const {
        if (lenient_ && strict_ != lenient_)
            fail(ambiguous_password);
    }

    [[noreturn]] void fail(std::string_view detail) const {
        std::string why(detail);
        if (lenient_ && split_ && strict_ != lenient_)
            why = ambiguous_password;
        std::vector<text_span> secrets = secret_values_;
        if (lenient_)
            secrets.push_back(*lenient_);
        // Masked from the end, so that the earlier spans keep their positions.
        std::sort(secrets.begin(), secrets.end(),
                  [](const text_span& a, const text_span& b) { return a.pos > b.pos; });
        std::string masked(url_);
        for (const text_span& secret : secrets) {
            const std::string_view raw = url_.substr(secret.pos, secret.len);
            masked.replace(secret.pos, secret.len, masked_secret);
            // Belt and braces: the detail never spells out a secret, raw or decoded.
            if (raw.empty())
                continue;
            replace_all(why, raw, masked_secret);
            if (find_bad_escape(raw) == npos)
                replace_all(why, percent_decode(raw), masked_secret);
        }
        throw url_error(concat("invalid database URL \"", masked, "\": ", why));
    }

    // Percent-decodes one component; `what` names it in messages.
    std::string decode(std::string_view raw, std::string_view what) const {
        if (const size_t bad = find_bad_escape(raw); bad != npos)
            fail(concat("malformed percent escape \"", raw.substr(bad, 3), "\" in ", what, " \"",
                        raw, "\""));
        std::string text = percent_decode(raw);
        if (contains(text, '\0'))
            fail(concat(what, " \"", raw, "\" contains a NUL byte"));
        return text;
    }

    // Like decode(), but the messages never quote the text.
    std::string decode_password(std::string_view raw) const {
        if (find_bad_escape(raw) != npos)
            fail("malformed percent escape in the password");
        std::string text = percent_decode(raw);
        if (contains(text, '\0'))
            fail("the password contains a NUL byte");
        return text;
    }

private:
    std::string_view url_;
    std::optional<text_span> lenient_;
    std::vector<text_span> secret_values_;
    std::optional<text_span> strict_;
    bool split_ = false;
};

backend backend_for_scheme(const url_reader& reader, std::string_view scheme) {
    if (scheme.empty())
        reader.fail("missing scheme before \"://\"");
    if (!is_alpha(scheme.front()))
        reader.fail("malformed scheme before \"://\"");
    for (char c : scheme) {
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
            reader.fail("malformed scheme before \"://\"");
    }
    const std::string lower = to_lower(scheme);
    if (lower == "sqlite")
        return backend::sqlite3;
    if (lower == "postgresql" || lower == "postgres")
        return backend::postgresql;
    if (lower == "mysql")
        return backend::mysql;
    reader.fail(
        concat("unknown scheme \"", scheme, "\" (expected sqlite, postgresql, postgres or mysql)"));
}

// Splits what follows "://": authority (up to the first '/' or '?'), user info (up to
// the authority's last '@'), password (after the user info's first ':'), path, query.
raw_pieces split_rest(url_reader& reader, size_t rest_pos) {
    const std::string_view rest = reader.url().substr(rest_pos);
    raw_pieces pieces;
    const size_t authority_end = std::min(rest.find_first_of("/?"), rest.size());
    pieces.authority = rest.substr(0, authority_end);
    pieces.host_port = pieces.authority;

    std::optional<text_span> password_span;
    if (const size_t at = pieces.authority.rfind('@'); at != npos) {
        pieces.has_userinfo = true;
        const std::string_view userinfo = pieces.authority.substr(0, at);
        pieces.host_port = pieces.authority.substr(at + 1);
        const size_t colon = userinfo.find(':');
        pieces.userinfo_user = userinfo.substr(0, colon);
        if (colon != npos) {
            pieces.userinfo_password = userinfo.substr(colon + 1);
            password_span = text_span{rest_pos + colon + 1, at - colon - 1};
        }
    }
    reader.set_strict_password(password_span);

    std::string_view tail = rest.substr(authority_end);
    if (const size_t question = tail.find('?'); question != npos) {
        pieces.query = tail.substr(question + 1);
        tail = tail.substr(0, question);
    }
    if (!tail.empty())
        pieces.path = tail.substr(1);  // drop the '/' that ends the authority
    return pieces;
}

unsigned short parse_port(const url_reader& reader, std::string_view raw) {
    unsigned value = 0;
    bool valid = !raw.empty() && raw.size() <= 5;
    for (char c : raw) {
        if (!is_digit(c)) {
            valid = false;
            break;
        }
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (!valid || value < 1 || value > 65535)
        reader.fail(concat("port \"", raw, "\" is not a number in 1..65535"));
    return static_cast<unsigned short>(value);
}

bool is_ipv6_literal(std::string_view text) {
    if (!contains(text, ':'))
        return false;
    for (char c : text) {
        if (hex_value(c) < 0 && c != ':' && c != '.')
            return false;
    }
    return true;
}

void parse_host_port(const url_reader& reader, std::string_view host_port, url_parts& parts) {
    std::string_view host_raw = host_port;
    std::optional<std::string_view> port_raw;
    if (host_port.starts_with('[')) {
        const size_t close = host_port.find(']');
        if (close == npos)
            reader.fail(concat("IPv6 host \"", host_port, "\" lacks the closing ']'"));
        host_raw = host_port.substr(1, close - 1);
        const std::string_view after = host_port.substr(close + 1);
        if (!after.empty() && after.front() != ':')
            reader.fail(concat("unexpected \"", after, "\" after IPv6 host \"[", host_raw, "]\""));
        if (!after.empty())
            port_raw = after.substr(1);
        if (!is_ipv6_literal(host_raw))
            reader.fail(concat("host \"[", host_raw, "]\" is not an IPv6 address"));
        parts.host = std::string(host_raw);
    } else {
        if (const size_t colon = host_port.find(':'); colon != npos) {
            host_raw = host_port.substr(0, colon);
            port_raw = host_port.substr(colon + 1);
        }
        for (char c : host_raw) {
            if (!is_unreserved(c) && c != '%' && !contains(sub_delimiters, c))
                reader.fail(concat("host \"", host_raw, "\" contains an invalid character"));
        }
        parts.host = reader.decode(host_raw, "host");
    }
    if (port_raw)
        parts.port = parse_port(reader, *port_raw);
}

// key=value pairs separated by '&'; empty pairs are skipped, a pair without '=' has an
// empty value. Keys must be identifiers and unique.
void parse_query(const url_reader& reader, std::string_view raw, url_parts& parts) {
    while (!raw.empty()) {
        const size_t amp = std::min(raw.find('&'), raw.size());
        const std::string_view pair = raw.substr(0, amp);
        raw = raw.substr(std::min(amp + 1, raw.size()));
        if (pair.empty())
            continue;
        const size_t eq = std::min(pair.find('='), pair.size());
        const std::string_view key_raw = pair.substr(0, eq);
        const std::string_view value_raw = pair.substr(std::min(eq + 1, pair.size()));
        std::string key = reader.decode(key_raw, "query parameter name");
        if (!is_identifier(key))
            reader.fail(concat("query parameter name \"", key_raw,
                               "\" is not an identifier ([A-Za-z_][A-Za-z0-9_]*)"));
        std::string value =
            reader.decode(value_raw, concat("value of query parameter \"", key, "\""));
        if (parts.query.contains(key))
            reader.fail(concat("query parameter \"", key, "\" is given twice"));
        parts.query.emplace(std::move(key), std::move(value));
    }
}

// Query parameters that would repeat (and, in the connect string, silently override or
// be overridden by) a part of the URL proper.
void check_query_conflicts(const url_reader& reader, const url_parts& parts) {
    struct duplicate {
        std::string_view key;
        std::string_view part;
        bool given;
    };
    const bool mysql = parts.kind == backend::mysql;
    const duplicate duplicates[] = {
        {"host", "host", !parts.host.empty()},
        {"port", "port", parts.port.has_value()},
        {"user", "user name", !parts.username.empty()},
        {"dbname", "database name", !parts.database.empty()},
        {"db", "database name", mysql && !parts.database.empty()},
        {"service", "database name", mysql && !parts.database.empty()},
    };
    for (const auto& [key, part, given] : duplicates) {
        if (given && parts.query.contains(std::string(key)))
            reader.fail(concat(
                "query parameter \"", key, "\" conflicts with the ", part, " given in the URL",
                key == "host" ? " (for a unix socket: user@/dbname?host=/dir)" : ""));
    }
    for (std::string_view key : {"password", "pass"}) {
        if (parts.query.contains(std::string(key)))
            reader.fail(concat("query parameter \"", key,
                               "\" is not allowed; put the password in the URL "
                               "(user:password@host)"));
    }
    if (parts.kind == backend::postgresql) {
        if (const auto found = parts.query.find(std::string(database_url::prepared_statements_key));
            found != parts.query.end() && found->second != "on" && found->second != "off")
            reader.fail(concat("invalid ", database_url::prepared_statements_key, " \"",
                               found->second, "\" (expected on or off)"));
    }
}

// SQLite's parameters are the library's own (SOCI's sqlite3 backend takes none of them
// from a URL): checked here, so that a URL that parses is one a factory accepts.
void check_sqlite_parameters(const url_reader& reader, const url_parts& parts) {
    for (const auto& [key, value] : parts.query) {
        if (key == "busy_timeout") {
            int milliseconds = 0;
            const auto [end, ec] =
                std::from_chars(value.data(), value.data() + value.size(), milliseconds);
            if (ec != std::errc{} || end != value.data() + value.size() || milliseconds < 0)
                reader.fail(concat("invalid SQLite busy_timeout \"", value,
                                   "\": expected milliseconds as a whole number >= 0"));
        } else if (key == "journal_mode") {
            if (value.empty() || !std::all_of(value.begin(), value.end(),
                                              [](unsigned char c) { return std::isalpha(c) != 0; }))
                reader.fail(concat("invalid SQLite journal_mode \"", value, "\""));
        } else {
            reader.fail(concat("unknown SQLite URL parameter \"", key,
                               "\" (expected busy_timeout or journal_mode)"));
        }
    }
}

void parse_sqlite(const url_reader& reader, const raw_pieces& pieces, url_parts& parts) {
    if (!pieces.authority.empty())
        reader.fail(
            "sqlite URLs take no user name, password, host or port (use sqlite:///relative.db, "
            "sqlite:////absolute.db or sqlite:// for an in-memory database)");
    if (pieces.path) {
        std::string path = reader.decode(*pieces.path, "sqlite path");
        if (path != ":memory:")
            parts.database = std::move(path);
    }
    // SOCI's sqlite3 backend reads a connect string containing '=' as key=value pairs,
    // so such a path goes in db="..."; its parser handles neither an embedded '"' nor a
    // leading blank there.
    const std::string& path = parts.database;
    if (contains(path, '=') && (contains(path, '"') || path.starts_with(' ')))
        reader.fail(concat("sqlite path \"", path,
                           "\" cannot be expressed in a SOCI connect string (it contains '=' "
                           "together with '\"' or a leading blank)"));
    if (pieces.query)
        parse_query(reader, *pieces.query, parts);
    check_sqlite_parameters(reader, parts);
}

void parse_server(const url_reader& reader, const raw_pieces& pieces, url_parts& parts) {
    if (pieces.has_userinfo) {
        parts.username = reader.decode(pieces.userinfo_user, "user name");
        if (pieces.userinfo_password) {
            parts.password = reader.decode_password(*pieces.userinfo_password);
            parts.password_raw = std::string(*pieces.userinfo_password);
        }
    }
    parse_host_port(reader, pieces.host_port, parts);
    if (pieces.path) {
        if (contains(*pieces.path, '@'))
            reader.fail(concat("database name \"", *pieces.path,
                               "\" contains '@' (percent-encode it as %40)"));
        parts.database = reader.decode(*pieces.path, "database name");
    }
    if (pieces.query)
        parse_query(reader, *pieces.query, parts);
    check_query_conflicts(reader, parts);
    reader.require_unambiguous();
}

url_parts parse_parts(std::string_view url) {
    url_reader reader(url);
    if (url.empty())
        reader.fail("the URL is empty");
    const size_t sep = url.find("://");
    if (sep == npos)
        reader.fail("missing \"://\" after the scheme (e.g. postgresql://host/dbname)");

    url_parts parts;
    parts.kind = backend_for_scheme(reader, url.substr(0, sep));
    parts.scheme = to_lower(url.substr(0, sep));
    const raw_pieces pieces = split_rest(reader, sep + 3);
    if (parts.kind == backend::sqlite3)
        parse_sqlite(reader, pieces, parts);
    else
        parse_server(reader, pieces, parts);
    return parts;
}

}  // namespace

database_url database_url::parse(std::string_view url) {
    url_parts parts = parse_parts(url);
    database_url result;
    result.backend_ = parts.kind;
    result.scheme_ = std::move(parts.scheme);
    result.username_ = std::move(parts.username);
    result.password_ = std::move(parts.password);
    result.password_raw_ = std::move(parts.password_raw);
    result.host_ = std::move(parts.host);
    result.port_ = parts.port;
    result.database_ = std::move(parts.database);
    result.query_ = std::move(parts.query);
    return result;
}

std::string_view database_url::backend_name() const noexcept {
    switch (backend_) {
        case backend::sqlite3:
            return "sqlite3";
        case backend::postgresql:
            return "postgresql";
        case backend::mysql:
            return "mysql";
    }
    return "unknown";
}

bool database_url::is_sqlite_memory() const noexcept {
    return backend_ == backend::sqlite3 && database_.empty();
}

std::string database_url::to_string() const {
    std::string out = concat(scheme_, "://");
    if (backend_ == backend::sqlite3) {
        if (!database_.empty())
            out += concat("/", percent_encode(database_, concat(sub_delimiters, ":@/")));
    } else {
        if (!username_.empty() || password_) {
            out += percent_encode(username_, sub_delimiters);
            if (password_)
                out += concat(":", masked_secret);
            out += '@';
        }
        if (is_ipv6_literal(host_))
            out += concat("[", host_, "]");
        else
            out += percent_encode(host_, sub_delimiters);
        if (port_)
            out += concat(":", std::to_string(*port_));
        if (!database_.empty())
            out += concat("/", percent_encode(database_, concat(sub_delimiters, ":")));
    }
    char separator = '?';
    for (const auto& [key, value] : query_) {
        out += separator;
        separator = '&';
        const std::string shown = is_secret_key(key) ? std::string(masked_secret)
                                                     : percent_encode(value, "!$'()*+,;:@/?");
        out += concat(percent_encode(key, ""), "=", shown);
    }
    return out;
}

std::string database_url::soci_connect_string() const {
    std::string out;
    switch (backend_) {
        case backend::sqlite3:
            if (database_.empty())
                return ":memory:";
            if (contains(database_, '='))
                return concat("db=\"", database_, "\"");
            return database_;
        case backend::postgresql:
            if (!host_.empty())
                append_setting(out, "host", single_quote(host_));
            if (port_)
                append_setting(out, "port", single_quote(std::to_string(*port_)));
            if (!database_.empty())
                append_setting(out, "dbname", single_quote(database_));
            if (!username_.empty())
                append_setting(out, "user", single_quote(username_));
            if (password_)
                append_setting(out, "password", single_quote(*password_));
            for (const auto& [key, value] : query_)
                if (key != prepared_statements_key)  // the library's, not libpq's
                    append_setting(out, key, single_quote(value));
            return out;
        case backend::mysql:
            if (!database_.empty())
                append_setting(out, "db", mysql_value(database_));
            if (!username_.empty())
                append_setting(out, "user", mysql_value(username_));
            if (password_)
                append_setting(out, "password", mysql_value(*password_));
            if (!host_.empty())
                append_setting(out, "host", mysql_value(host_));
            if (port_)
                append_setting(out, "port", std::to_string(*port_));
            for (const auto& [key, value] : query_)
                append_setting(out, key, mysql_value(value));
            return out;
    }
    return out;
}

std::string database_url::redact(std::string text) const {
    // The secrets: the password, and the values of secret query parameters.
    std::vector<std::pair<std::string, std::string>> secrets;  // (as written, decoded)
    if (password_ && !password_->empty())
        secrets.emplace_back(password_raw_, *password_);
    for (const auto& [key, value] : query_)
        if (is_secret_key(key) && !value.empty())
            secrets.emplace_back(percent_encode(value, "!$'()*+,;:@/?"), value);
    // Only where a driver quotes the settings: the URL's user info, and key=value forms
    // of the connect string; never a word of free text that happens to match.
    for (const auto& [raw, decoded] : secrets) {
        for (const auto& value : {raw, decoded}) {
            replace_all(text, concat(":", value, "@"), concat(":", masked_secret, "@"));
            for (const auto& form : {single_quote(value), value})
                for (std::string_view key : {"password=", "pass="})
                    replace_all(text, concat(key, form), concat(key, masked_secret));
        }
    }
    return text;
}

}  // namespace asio_soci
