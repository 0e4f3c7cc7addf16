//! SQL handling with the agent's exact rules: obfuscation (string and
//! numeric literals become `?`, comments disappear), the operation/table
//! extraction that names datastore metrics, and the slow-SQL id.
//!
//! The id is MurmurHash3 (x86, 32-bit, seed `0x290848ab`) of the obfuscated
//! query after `IN (?, ?, ?)` lists are collapsed to `IN (?)`, so the same
//! statement gets the same id in every process and the daemon can merge
//! them.

/// Replaces string literals (`'…'`, `"…"`) and digit runs with `?` and
/// drops `-- …` (to end of line) and `/* … */` comments. An unterminated
/// comment swallows the rest of the query.
pub fn obfuscate(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                out.push(b'?');
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' {
                        i += 2;
                    } else if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => match b[i..].iter().position(|&c| c == b'\n') {
                Some(nl) => i += nl + 1,
                None => break,
            },
            b'/' if b.get(i + 1) == Some(&b'*') => match find(&b[i + 2..], b"*/") {
                Some(end) => i += 2 + end + 2,
                None => break,
            },
            b'0'..=b'9' => {
                out.push(b'?');
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    // Only ASCII bytes were inserted or removed, and multi-byte characters
    // are either copied whole or skipped whole (inside literals/comments),
    // except when a literal or comment ends inside one, which cannot happen
    // because the delimiters are ASCII.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Collapses `IN (?, ?, …)` lists (after obfuscation) to `IN (?)`.
pub fn normalize(obfuscated: &str) -> String {
    let b = obfuscated.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut state = 0;
    for &c in b {
        match state {
            0 => {
                if c == b'i' || c == b'I' {
                    state = 1;
                }
                out.push(c);
            }
            1 => {
                state = if c == b'n' || c == b'N' { 2 } else { 0 };
                out.push(c);
            }
            2 => {
                if c == b'(' {
                    state = 3;
                } else if !is_space(c) {
                    state = 0;
                }
                out.push(c);
            }
            3 => {
                if c == b'?' || c == b',' || is_space(c) {
                } else if c == b')' {
                    out.extend_from_slice(b"?)");
                    state = 0;
                } else {
                    state = 4;
                    out.push(c);
                }
            }
            _ => {
                if c == b')' {
                    state = 0;
                }
                out.push(c);
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// MurmurHash3 x86_32 with the agent's fixed seed. Empty input hashes to 0.
pub fn murmur3(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    if data.is_empty() {
        return 0;
    }
    let mut h: u32 = 0x2908_48ab;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k: u32 = 0;
        for (i, &byte) in tail.iter().enumerate() {
            k ^= u32::from(byte) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The slow-SQL id of an already obfuscated query (0 for an empty one).
pub fn query_id(obfuscated: &str) -> u32 {
    murmur3(normalize(obfuscated).as_bytes())
}

const WS: &[u8] = b" \r\n\t\x0b\x0c";
const DELIMS: &[u8] = b" \r\n\t\x0b\x0c'\"`([@{";

fn skip_ws_comments(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() && WS.contains(&b[i]) {
        i += 1;
    }
    while b.get(i) == Some(&b'/') && b.get(i + 1) == Some(&b'*') {
        i += 2;
        loop {
            if i >= b.len() {
                return None;
            }
            if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                i += 2;
                break;
            }
            i += 1;
        }
        while i < b.len() && WS.contains(&b[i]) {
            i += 1;
        }
    }
    Some(i)
}

fn starts_ci(b: &[u8], i: usize, word: &[u8]) -> bool {
    b.len() >= i + word.len() && b[i..i + word.len()].eq_ignore_ascii_case(word)
}

/// Is `word` at `i`, followed by a delimiter (a NUL end counts as one)?
fn keyword_at(b: &[u8], i: usize, word: &[u8]) -> bool {
    starts_ci(b, i, word) && b.get(i + word.len()).is_none_or(|c| DELIMS.contains(c))
}

/// Skips `IF EXISTS` / `IF NOT EXISTS` after `TABLE` or `DATABASE`
/// (`DROP TABLE IF EXISTS t`, `CREATE TABLE IF NOT EXISTS t`), so the
/// guard is not taken for the table's name.
fn skip_if_exists(b: &[u8], x: usize) -> Option<usize> {
    let mut y = skip_ws_comments(b, x)?;
    if !keyword_at(b, y, b"if") {
        return Some(x);
    }
    y = skip_ws_comments(b, y + 2)?;
    if keyword_at(b, y, b"not") {
        y = skip_ws_comments(b, y + 3)?;
    }
    if keyword_at(b, y, b"exists") {
        Some(y + 6)
    } else {
        Some(x)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Update,
    From,
    Into,
    Drop,
    Create,
    Commit,
}

/// Extracts the operation and table the way the agent names datastore
/// metrics. The operation is `select`, `update`, `insert`, `replace`,
/// `delete`, `commit`, `create`, `drop`, or `other` when the statement starts
/// with anything else (such as `WITH`); the table is `None` when it cannot
/// be found. A subquery in table position yields `(subquery)`.
pub fn parse(sql: &str) -> (&'static str, Option<String>) {
    const OPS: [(&str, Mode); 8] = [
        ("select", Mode::From),
        ("update", Mode::Update),
        ("insert", Mode::Into),
        ("replace", Mode::Into),
        ("delete", Mode::From),
        ("commit", Mode::Commit),
        ("create", Mode::Create),
        ("drop", Mode::Drop),
    ];
    let b = sql.as_bytes();
    let Some(start) = skip_ws_comments(b, 0) else {
        return ("other", None);
    };
    let Some(&(op, mode)) = OPS
        .iter()
        .find(|(name, _)| starts_ci(b, start, name.as_bytes()))
    else {
        return ("other", None);
    };
    (op, table(b, start, mode))
}

fn table(b: &[u8], start: usize, mode: Mode) -> Option<String> {
    let mut x = start;
    if matches!(mode, Mode::Commit | Mode::Update) {
        while x < b.len() && !WS.contains(&b[x]) {
            x += 1;
        }
    } else {
        loop {
            if x >= b.len() {
                break;
            }
            x = skip_ws_comments(b, x)?;
            if x >= b.len() {
                break;
            }
            if b[x] == b'\'' || b[x] == b'"' {
                let q = b[x];
                let end = b[x + 1..].iter().position(|&c| c == q)?;
                x += 1 + end + 1;
                continue;
            }
            if matches!(mode, Mode::Create | Mode::Drop) {
                if keyword_at(b, x, b"database") {
                    x = skip_if_exists(b, x + 8)?;
                    break;
                }
                if keyword_at(b, x, b"table") {
                    x = skip_if_exists(b, x + 5)?;
                    break;
                }
            }
            if mode == Mode::From && keyword_at(b, x, b"from") {
                x += 4;
                break;
            }
            if mode == Mode::Into && keyword_at(b, x, b"into") {
                x += 4;
                break;
            }
            while x < b.len() && !WS.contains(&b[x]) && b[x] != b'\'' && b[x] != b'"' {
                x += 1;
            }
        }
    }
    x = skip_ws_comments(b, x)?;
    if b.get(x) == Some(&b'(') {
        x += 1;
        if !matches!(b.get(x), Some(b'`' | b'\'' | b'"')) {
            let stop = b[x..]
                .iter()
                .position(|c| b" \r\n\t\x0b\x0c,`)'\";".contains(c))
                .map_or(b.len(), |p| x + p);
            if !matches!(b.get(stop), Some(b')' | b',')) {
                return Some("(subquery)".into());
            }
        }
    }
    let tail_stop: &[u8] = b" \r\n\t\x0b\x0c'\"`([@{]});,*./";
    let tail_skip: &[u8] = b" \r\n\t\x0b\x0c'\"`([@{]});,*/";
    let (mut first, mut end);
    loop {
        if matches!(b.get(x), Some(b'`' | b'\'' | b'"' | b'{')) {
            x += 1;
        }
        first = x;
        while x < b.len() && !tail_stop.contains(&b[x]) {
            x += 1;
        }
        end = x;
        while x < b.len() && tail_skip.contains(&b[x]) {
            x += 1;
        }
        if b.get(x) == Some(&b'.') {
            x += 1;
            continue;
        }
        break;
    }
    if first >= end {
        return None;
    }
    Some(String::from_utf8_lossy(&b[first..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscates_literals_and_comments() {
        assert_eq!(
            obfuscate("SELECT * FROM t WHERE a = 'x''y' AND b = 42"),
            "SELECT * FROM t WHERE a = ? AND b = ?"
        );
        assert_eq!(
            obfuscate(
                r#"SELECT "it\"s" -- comment
FROM t"#
            ),
            "SELECT ? FROM t"
        );
        assert_eq!(
            obfuscate("SELECT /* hi */ 1.5 FROM t"),
            "SELECT  ?.? FROM t"
        );
        assert_eq!(obfuscate("SELECT 1 /* open"), "SELECT ? ");
        assert_eq!(obfuscate("SELECT a FROM t -- tail"), "SELECT a FROM t ");
        assert_eq!(
            obfuscate("SELECT x FROM t1 WHERE e = :name"),
            "SELECT x FROM t? WHERE e = :name"
        );
        assert_eq!(obfuscate("SELECT 'é' , 'ünterminated"), "SELECT ? , ?");
        assert_eq!(obfuscate("a - b / c"), "a - b / c");
    }

    #[test]
    fn vector_queries_obfuscate_and_hash_like_the_agent() {
        let raw = "WITH RECURSIVE cnt(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM cnt WHERE x < 200000) SELECT count(*) FROM cnt WHERE x > 'abc' OR x > 0";
        let obf = obfuscate(raw);
        assert_eq!(
            obf,
            "WITH RECURSIVE cnt(x) AS (SELECT ? UNION ALL SELECT x + ? FROM cnt WHERE x < ?) SELECT count(*) FROM cnt WHERE x > ? OR x > ?"
        );
        assert_eq!(query_id(&obf), 1_117_522_535);
        let raw2 = "SELECT count(*) FROM users WHERE email LIKE '%@example.com' AND (SELECT count(*) FROM (WITH RECURSIVE cnt(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM cnt WHERE x < 200000) SELECT x FROM cnt)) > 0";
        assert_eq!(query_id(&obfuscate(raw2)), 3_657_342_214);
        assert_eq!(query_id(""), 0);
    }

    #[test]
    fn in_lists_collapse_before_hashing() {
        assert_eq!(
            normalize("SELECT * FROM t WHERE a IN (?, ?,?)"),
            "SELECT * FROM t WHERE a IN (?)"
        );
        assert_eq!(normalize("x in  (?)"), "x in  (?)");
        assert_eq!(normalize("x IN (?, b)"), "x IN (b)");
        assert_eq!(query_id("a IN (?,?)"), query_id("a IN (?)"));
    }

    #[test]
    fn murmur_matches_reference_values() {
        // Values from a separate Python implementation of the seeded hash.
        assert_eq!(murmur3(b""), 0);
        assert_eq!(murmur3(b"a"), 2_114_823_882);
        assert_eq!(murmur3(b"ab"), 3_444_101_757);
        assert_eq!(murmur3(b"abc"), 1_940_143_600);
        assert_eq!(murmur3(b"abcd"), 1_876_052_358);
        assert_eq!(murmur3(b"abcde"), 3_659_009_369);
    }

    /// New Relic's cross-agent SQL parsing cases (`sql_parsing.json`).
    #[test]
    fn cross_agent_sql_parsing_cases() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("SELECT * FROM foobar", "select", Some("foobar")),
            ("SELECT F FROM foobar", "select", Some("foobar")),
            ("SELECT Ff FROM foobar", "select", Some("foobar")),
            ("SELECT I FROM foobar", "select", Some("foobar")),
            ("SELECT FROMM FROM foobar", "select", Some("foobar")),
            ("SELECT * FROM foobar WHERE x > y", "select", Some("foobar")),
            ("SELECT * FROM `foobar`", "select", Some("foobar")),
            (
                "SELECT * FROM `foobar` WHERE x > y",
                "select",
                Some("foobar"),
            ),
            ("SELECT * FROM database.foobar", "select", Some("foobar")),
            (
                "SELECT * FROM database.foobar WHERE x > y",
                "select",
                Some("foobar"),
            ),
            ("SELECT * FROM `database`.foobar", "select", Some("foobar")),
            (
                "SELECT * FROM `database`.foobar WHERE x > y",
                "select",
                Some("foobar"),
            ),
            ("SELECT * FROM database.`foobar`", "select", Some("foobar")),
            (
                "SELECT * FROM database.`foobar` WHERE x > y",
                "select",
                Some("foobar"),
            ),
            ("SELECT * FROM (foobar)", "select", Some("foobar")),
            (
                "SELECT * FROM (foobar) WHERE x > y",
                "select",
                Some("foobar"),
            ),
            ("SELECT * FROM (`foobar`)", "select", Some("foobar")),
            (
                "SELECT * FROM (`foobar`) WHERE x > y",
                "select",
                Some("foobar"),
            ),
            (
                "SELECT * FROM (SELECT * FROM foobar)",
                "select",
                Some("(subquery)"),
            ),
            (
                "SELECT * FROM (SELECT * FROM foobar) WHERE x > y",
                "select",
                Some("(subquery)"),
            ),
            ("SELECT xy,zz,y FROM foobar", "select", Some("foobar")),
            (
                "SELECT xy,zz,y FROM foobar ORDER BY zy",
                "select",
                Some("foobar"),
            ),
            ("SELECT xy,zz,y FROM `foobar`", "select", Some("foobar")),
            (
                "SELECT xy,zz,y FROM `foobar` ORDER BY zy",
                "select",
                Some("foobar"),
            ),
            ("SELECT `xy`,`zz`,y FROM foobar", "select", Some("foobar")),
            (
                "SELECT Name FROM `world`.`City` WHERE Population > ?",
                "select",
                Some("City"),
            ),
            (
                "SELECT frok FROM `world`.`City` WHERE Population > ?",
                "select",
                Some("City"),
            ),
            (
                "SELECT irom FROM `world`.`City` WHERE Population > ?",
                "select",
                Some("City"),
            ),
            (
                "SELECT fromm FROM `world`.`City` WHERE Population > ?",
                "select",
                Some("City"),
            ),
            ("SELECT * FROM foo,bar", "select", Some("foo")),
            (
                "  \tSELECT * from \"foo\" WHERE a = b",
                "select",
                Some("foo"),
            ),
            (
                "  \tSELECT     *     \t from \"bar\" WHERE a = b",
                "select",
                Some("bar"),
            ),
            ("SELECT FROM_UNIXTIME() from \"bar\"", "select", Some("bar")),
            ("SELECT ffrom from \"frome\"", "select", Some("frome")),
            ("SELECT ffrom from (\"frome\")", "select", Some("frome")),
            ("UPDATE abc SET x=1, y=2", "update", Some("abc")),
            ("    \tUPDATE abc SET ffrom='iinto'", "update", Some("abc")),
            (
                "    \tUPDATE 'abc' SET ffrom='iinto'",
                "update",
                Some("abc"),
            ),
            (
                "    \tUPDATE `abc` SET ffrom='iinto'",
                "update",
                Some("abc"),
            ),
            (
                "    \tUPDATE \"abc\" SET ffrom='iinto'",
                "update",
                Some("abc"),
            ),
            (
                "    \tUPDATE\r\tabc SET ffrom='iinto'",
                "update",
                Some("abc"),
            ),
            (
                "INSERT INTO foobar (x,y) VALUES (1,2)",
                "insert",
                Some("foobar"),
            ),
            (
                "INSERT INTO foobar(x,y) VALUES (1,2)",
                "insert",
                Some("foobar"),
            ),
            (" /* a */ SELECT * FROM alpha", "select", Some("alpha")),
            ("SELECT /* a */ * FROM alpha", "select", Some("alpha")),
            ("SELECT * /* a */ FROM alpha", "select", Some("alpha")),
            ("SELECT * FROM /* a */ alpha", "select", Some("alpha")),
            (
                "/* X */ SELECT /* Y */ foo/**/ FROM /**/alpha/**/",
                "select",
                Some("alpha"),
            ),
            ("mystoredprocedure'123'", "other", None),
            ("mystoredprocedure\t'123'", "other", None),
            ("mystoredprocedure\r'123'", "other", None),
            ("[mystoredprocedure]123", "other", None),
            ("\"mystoredprocedure\"abc", "other", None),
            ("mystoredprocedure", "other", None),
        ];
        for (sql, op, t) in cases {
            assert_eq!(parse(sql), (*op, t.map(str::to_owned)), "{sql:?}");
        }
    }

    #[test]
    fn operation_and_table() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
                "create",
                Some("users"),
            ),
            (
                "INSERT INTO users (name, email) VALUES (?, ?)",
                "insert",
                Some("users"),
            ),
            (
                "SELECT id, name FROM users WHERE name = :name",
                "select",
                Some("users"),
            ),
            (
                "  /* c */ select * from `db`.`tbl` where x",
                "select",
                Some("tbl"),
            ),
            ("UPDATE accounts SET a = 1", "update", Some("accounts")),
            ("DELETE FROM sessions WHERE 1", "delete", Some("sessions")),
            ("REPLACE INTO kv VALUES (1)", "replace", Some("kv")),
            ("DROP DATABASE shop", "drop", Some("shop")),
            ("select * from (select 1) t", "select", Some("(subquery)")),
            ("select * from (`users`)", "select", Some("users")),
            ("SELECT 1", "select", None),
            (
                "WITH RECURSIVE cnt(x) AS (SELECT 1) SELECT count(*) FROM cnt",
                "other",
                None,
            ),
            ("SHOW TABLES", "other", None),
            // DDL guards, modifiers and quoting.
            ("DROP TABLE IF EXISTS products", "drop", Some("products")),
            (
                "drop table if exists `shop`.`products`",
                "drop",
                Some("products"),
            ),
            (
                "DROP TEMPORARY TABLE IF EXISTS tmp_cart, tmp_x",
                "drop",
                Some("tmp_cart"),
            ),
            (
                "DROP TABLE IF EXISTS public.products CASCADE",
                "drop",
                Some("products"),
            ),
            ("DROP DATABASE IF EXISTS shop", "drop", Some("shop")),
            ("DROP TABLE ifs", "drop", Some("ifs")),
            ("DROP TABLE if_exists_log", "drop", Some("if_exists_log")),
            (
                "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY)",
                "create",
                Some("orders"),
            ),
            (
                "CREATE TABLE /* c */ IF /* c */ NOT EXISTS\n\t\"Orders\" (id int)",
                "create",
                Some("Orders"),
            ),
            (
                "CREATE TEMP TABLE IF NOT EXISTS t1(a)",
                "create",
                Some("t1"),
            ),
            (
                "CREATE DATABASE IF NOT EXISTS analytics",
                "create",
                Some("analytics"),
            ),
            ("CREATE INDEX idx_a ON t (a)", "create", None),
            (
                "CREATE TABLE \"public\".\"users\" (id int)",
                "create",
                Some("users"),
            ),
            (
                "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)",
                "insert",
                Some("kv"),
            ),
            (
                "INSERT OR IGNORE INTO `kv` VALUES (1)",
                "insert",
                Some("kv"),
            ),
            ("REPLACE INTO main.kv VALUES (1)", "replace", Some("kv")),
            ("UPDATE \"main\".\"kv\" SET v = 1", "update", Some("kv")),
            // Brackets (SQL Server quoting) are delimiters for the agent.
            ("DELETE FROM [dbo].[Sessions]", "delete", None),
            ("/* unterminated", "other", None),
            ("", "other", None),
        ];
        for (sql, op, t) in cases {
            assert_eq!(parse(sql), (*op, t.map(str::to_owned)), "{sql}");
        }
    }
}
