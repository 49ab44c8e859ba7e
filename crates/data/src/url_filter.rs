//! URL filter, as datatrove's `URLFilter` (0.10.1) that FineWeb runs first: a page is dropped
//! if, checked in this order (the reason is recorded),
//! 1. its registered domain (public-suffix list, ICANN section, as `tldextract`) is a blocked
//!    domain: `domain`;
//! 2. its full host name is a blocked domain: `subdomain`;
//! 3. the URL is a blocked URL: `url` (also without its scheme, the UT1 lists' form; datatrove
//!    compares only the full URL, so such entries never match there);
//! 4. one of the URL's words (split on non-alphanumerics, case kept) is a banned word:
//!    `hard_blacklisted`;
//! 5. at least `soft_word_threshold` (2) of its words are soft banned words: `soft_blacklisted`;
//! 6. its normalised form (alphanumerics only, lowercased) contains a banned subword
//!    (Aho-Corasick): `blacklisted_subword`.
//!
//! Lists use datatrove's / UT1's format: one entry per line, `#` comment lines; words are
//! normalised the same way. The default lists (`lists/`) are small and our own; the full
//! FineWeb lists plug in as a folder (`UrlFilter::from_dir`).

use aho_corasick::AhoCorasick;
use std::collections::HashSet;
use std::path::Path;

/// The URL filter's lists and threshold.
pub struct UrlFilter {
    domains: HashSet<String>,
    urls: HashSet<String>,
    banned_words: HashSet<String>,
    soft_banned_words: HashSet<String>,
    banned_subwords: Option<AhoCorasick>,
    pub soft_word_threshold: usize,
}

/// The list files of a folder: datatrove's names (the blocklist tarball's `adult/domains` and
/// `adult/urls` are found there too).
const FILES: [&str; 5] = ["domains", "urls", "banned_words.txt", "soft_banned_words.txt", "banned_subwords.txt"];

impl UrlFilter {
    /// The built-in lists.
    pub fn builtin() -> UrlFilter {
        UrlFilter::from_texts([
            include_str!("../lists/domains"),
            include_str!("../lists/urls"),
            include_str!("../lists/banned_words.txt"),
            include_str!("../lists/soft_banned_words.txt"),
            include_str!("../lists/banned_subwords.txt"),
        ])
    }

    /// Lists read from `dir` (any of `FILES`, directly or under `adult/`); a missing file is an
    /// empty list, but a folder with none of them is an error.
    pub fn from_dir(dir: &Path) -> Result<UrlFilter, crate::Error> {
        let mut texts: [String; 5] = Default::default();
        let mut found = 0;
        for (text, name) in texts.iter_mut().zip(FILES) {
            for path in [dir.join(name), dir.join("adult").join(name)] {
                if path.is_file() {
                    let bytes = std::fs::read(&path)
                        .map_err(|source| crate::Error::Io { path: path.display().to_string(), source })?;
                    *text = String::from_utf8_lossy(&bytes).into_owned();
                    found += 1;
                    break;
                }
            }
        }
        if found == 0 {
            return Err(crate::Error::Input(format!(
                "{}: no URL lists here (expected any of {})",
                dir.display(),
                FILES.join(", ")
            )));
        }
        Ok(UrlFilter::from_texts(texts.each_ref().map(|t| t.as_str())))
    }

    fn from_texts([domains, urls, banned, soft, sub]: [&str; 5]) -> UrlFilter {
        let subwords: Vec<String> = words(sub).into_iter().collect();
        UrlFilter {
            domains: entries(domains).map(|d| d.to_ascii_lowercase()).collect(),
            urls: entries(urls).map(str::to_string).collect(),
            banned_words: words(banned),
            soft_banned_words: words(soft),
            banned_subwords: (!subwords.is_empty())
                .then(|| AhoCorasick::new(&subwords).expect("plain literals always build")),
            soft_word_threshold: 2,
        }
    }

    /// Sizes of the lists: domains, URLs, banned, soft banned, banned subwords.
    pub fn len(&self) -> [usize; 4] {
        [self.domains.len(), self.urls.len(), self.banned_words.len(), self.soft_banned_words.len()]
    }

    pub fn is_empty(&self) -> bool {
        self.len().iter().all(|&n| n == 0) && self.banned_subwords.is_none()
    }

    /// Ok to keep the page, or the reason to drop it.
    pub fn check(&self, url: &str) -> Result<(), &'static str> {
        let host = host(url);
        if let Some(registered) = registered_domain(&host) {
            if self.domains.contains(registered) {
                return Err("domain");
            }
            if self.domains.contains(host.as_str()) {
                return Err("subdomain");
            }
        }
        let no_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        if self.urls.contains(url) || self.urls.contains(no_scheme) {
            return Err("url");
        }
        let url_words: HashSet<&str> = url.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        if self.banned_words.iter().any(|w| url_words.contains(w.as_str())) {
            return Err("hard_blacklisted");
        }
        let soft = self.soft_banned_words.iter().filter(|w| url_words.contains(w.as_str())).count();
        if soft >= self.soft_word_threshold {
            return Err("soft_blacklisted");
        }
        if let Some(ac) = &self.banned_subwords {
            if ac.is_match(&normalize(url)) {
                return Err("blacklisted_subword");
            }
        }
        Ok(())
    }
}

/// The non-comment, non-blank lines of a list, trimmed.
fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.starts_with('#')).map(str::trim).filter(|l| !l.is_empty())
}

/// A word list, normalised (datatrove: `re.sub("[^a-zA-Z0-9]+", "", x).lower()`).
fn words(text: &str) -> HashSet<String> {
    entries(text).map(normalize).filter(|w| !w.is_empty()).collect()
}

fn normalize(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// The URL's host name, lowercased, without user info, port or a trailing dot.
fn host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The registered domain (one label plus its ICANN public suffix), as `tldextract` computes it
/// by default (private suffixes such as `github.io` ignored); None for IP addresses and hosts
/// without a known suffix.
fn registered_domain(host: &str) -> Option<&str> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    // The longest ICANN suffix: step past private-section suffixes.
    let mut tail = host;
    let suffix_len = loop {
        let suffix = psl::suffix(tail.as_bytes())?;
        match suffix.typ() {
            Some(psl::Type::Icann) => break suffix.as_bytes().len(),
            Some(psl::Type::Private) => {
                let s = std::str::from_utf8(suffix.as_bytes()).ok()?;
                tail = s.split_once('.')?.1;
            }
            None => return None,
        }
    };
    let before = host.len().checked_sub(suffix_len + 1)?;
    let label_start = host[..before].rfind('.').map_or(0, |i| i + 1);
    (label_start < before).then(|| &host[label_start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_domains_follow_tldextract() {
        for (host, want) in [
            ("www.bbc.co.uk", Some("bbc.co.uk")),
            ("a.b.example.com", Some("example.com")),
            ("example.com", Some("example.com")),
            ("foo.github.io", Some("github.io")), // private suffix ignored, as tldextract
            ("co.uk", None),
            ("localhost", None),
            ("192.168.0.1", None),
            ("intranet.corp", None),
        ] {
            assert_eq!(registered_domain(host), want, "{host}");
        }
        assert_eq!(host("https://User:pw@WWW.Example.COM.:8080/a?b#c"), "www.example.com");
        assert_eq!(host("http://[::1]:80/"), "::1");
    }

    #[test]
    fn each_rule_in_datatrove_order() {
        let f = UrlFilter::builtin();
        for (url, want) in [
            ("https://docs.python.org/3/library/os.html", Ok(())),
            ("http://www.example.net/page", Err("domain")),
            ("http://blocked.example.org/x", Err("subdomain")),
            ("http://other.example.org/x", Ok(())),
            ("https://example.com/blocked-page.html", Err("url")),
            ("http://site.com/free-porn/", Err("hard_blacklisted")),
            ("http://site.com/PORN/", Ok(())), // words keep their case, as in datatrove
            ("http://site.com/hot-dating-tips", Err("soft_blacklisted")),
            ("http://site.com/hot-sauce", Ok(())),
            ("http://www.myxvideosite.com/", Err("blacklisted_subword")),
            ("http://www.MyXVideosSite.com/", Err("blacklisted_subword")),
        ] {
            assert_eq!(f.check(url), want, "{url}");
        }
    }

    #[test]
    fn lists_load_from_a_folder_in_datatrove_layout() {
        let dir = std::env::temp_dir().join(format!("minichat-url-lists-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("adult")).unwrap();
        std::fs::write(dir.join("adult/domains"), "# c\nbad-site.com\n\n").unwrap();
        std::fs::write(dir.join("banned_words.txt"), "Bad-Word\n").unwrap();
        let f = UrlFilter::from_dir(&dir).unwrap();
        assert_eq!(f.check("http://x.bad-site.com/"), Err("domain"));
        assert_eq!(f.check("http://ok.com/badword"), Err("hard_blacklisted"));
        assert_eq!(f.check("http://ok.com/porn"), Ok(()));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(UrlFilter::from_dir(&dir).is_err());
    }
}
