//! Personal information removal. As FineWeb (datatrove's `PIIFormatter`): e-mail addresses
//! and public IPv4 addresses, with datatrove's patterns and replacements. Beyond it: public
//! IPv6 addresses, phone numbers (international `+CC ...`, North American, Chinese mobile),
//! payment card numbers (Luhn-checked, known issuer prefixes), US social security numbers
//! (dashed, valid area/group/serial) and Chinese resident identity numbers (checksum and birth
//! date checked). Each kind is replaced by fixed placeholders and counted (`pii_<kind>`).
//!
//! Placeholders: e-mail `email@example.com`, `firstname.lastname@example.org` (alternating);
//! IPv4 datatrove's six unused addresses (cycling); IPv6 `2001:db8::1` (documentation range);
//! phone `555-0100` (the North American range reserved for fiction); card `4111 1111 1111
//! 1111` (a test number); SSN `000-00-0000`; Chinese ID `000000000000000000`. The cycles restart
//! with every document (datatrove's run on across documents, so its output depends on order).

use crate::stats::Counts;
use regex::{Captures, Regex};
use std::net::{Ipv4Addr, Ipv6Addr};

const EMAILS: [&str; 2] = ["email@example.com", "firstname.lastname@example.org"];
const IPV4S: [&str; 6] =
    ["22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206", "220.127.116.11", "18.104.22.168"];

/// The compiled patterns.
pub struct Pii {
    email: Regex,
    ipv4: Regex,
    ipv6: Regex,
    card: Regex,
    ssn: Regex,
    china_id: Regex,
    phone_intl: Regex,
    phone_nanp: Regex,
    phone_cn: Regex,
}

impl Default for Pii {
    fn default() -> Self {
        let re = |p: &str| Regex::new(p).expect("valid pattern");
        Pii {
            // datatrove's e-mail pattern (RFC 5322-ish).
            email: re(concat!(
                r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:(?:[A-Za-z0-9](?:[",
                r"A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?|\[(?:(?:25[0-5]|2[0-4][0-9]|[",
                r"01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[A-Za-z0-9-]*[A-Za-z0-9]:)])"
            )),
            // datatrove's IPv4 pattern (no word boundaries, as there).
            ipv4: re(r"(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"),
            ipv6: re(r"(?:^|[^0-9A-Za-z:.])((?:[0-9A-Fa-f]{1,4}:|:){2,7}(?:[0-9A-Fa-f]{1,4}|:))"),
            card: re(r"\b(?:\d[ -]?){12,18}\d\b"),
            ssn: re(r"\b(\d{3})-(\d{2})-(\d{4})\b"),
            china_id: re(r"\b\d{17}[\dXx]\b"),
            phone_intl: re(r"\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,5}\b"),
            phone_nanp: re(r"(?:\(\d{3}\) ?|\b\d{3}[.-])\d{3}[.-]\d{4}\b"),
            phone_cn: re(r"\b1[3-9]\d{9}\b"),
        }
    }
}

impl Pii {
    /// `text` with every kind replaced, in this order: e-mails, cards, Chinese IDs, SSNs,
    /// phones (international, North American, Chinese), IPv4, IPv6.
    pub fn redact(&self, text: &str, counts: &mut Counts) -> String {
        let mut t = replace_cycling(&self.email, text, &EMAILS, "pii_email", counts, |_| true);
        t = replace_cycling(&self.card, &t, &["4111 1111 1111 1111"], "pii_card", counts, is_card);
        t = replace_cycling(&self.china_id, &t, &["000000000000000000"], "pii_china_id", counts, is_china_id);
        t = replace_cycling(&self.ssn, &t, &["000-00-0000"], "pii_ssn", counts, is_ssn);
        t = replace_cycling(&self.phone_intl, &t, &["555-0100"], "pii_phone", counts, |m| {
            (8..=15).contains(&m.chars().filter(char::is_ascii_digit).count())
        });
        t = replace_cycling(&self.phone_nanp, &t, &["555-0100"], "pii_phone", counts, is_nanp);
        t = replace_cycling(&self.phone_cn, &t, &["555-0100"], "pii_phone", counts, |_| true);
        t = replace_cycling(&self.ipv4, &t, &IPV4S, "pii_ipv4", counts, is_public_ipv4);
        self.redact_ipv6(&t, counts)
    }

    fn redact_ipv6(&self, text: &str, counts: &mut Counts) -> String {
        self.ipv6
            .replace_all(text, |c: &Captures| {
                let whole = c.get(0).expect("match").as_str();
                let addr = c.get(1).expect("group").as_str();
                if is_public_ipv6(addr) {
                    counts.inc("pii_ipv6");
                    format!("{}2001:db8::1", &whole[..whole.len() - addr.len()])
                } else {
                    whole.to_string()
                }
            })
            .into_owned()
    }
}

/// Replaces matches that `valid` accepts by `replacements` in turn, counting them as `kind`.
fn replace_cycling(
    re: &Regex,
    text: &str,
    replacements: &[&str],
    kind: &str,
    counts: &mut Counts,
    valid: impl Fn(&str) -> bool,
) -> String {
    let mut i = 0;
    re.replace_all(text, |c: &Captures| {
        let m = c.get(0).expect("match").as_str();
        if !valid(m) {
            return m.to_string();
        }
        counts.inc(kind);
        let r = replacements[i % replacements.len()];
        i += 1;
        r.to_string()
    })
    .into_owned()
}

/// Python's `ipaddress.ip_address(s).is_global` for IPv4 (leading zeros are invalid there).
pub fn is_public_ipv4(s: &str) -> bool {
    if s.split('.').any(|o| o.len() > 1 && o.starts_with('0')) {
        return false;
    }
    let Ok(ip) = s.parse::<Ipv4Addr>() else { return false };
    let n = u32::from(ip);
    // Python 3.11's private networks, and the shared range 100.64.0.0/10.
    const PRIVATE: [(u32, u32); 15] = [
        (0x0000_0000, 8),
        (0x0a00_0000, 8),
        (0x7f00_0000, 8),
        (0xa9fe_0000, 16),
        (0xac10_0000, 12),
        (0xc000_0000, 29),
        (0xc000_00aa, 31),
        (0xc000_0200, 24),
        (0xc0a8_0000, 16),
        (0xc612_0000, 15),
        (0xc633_6400, 24),
        (0xcb00_7100, 24),
        (0xf000_0000, 4),
        (0xffff_ffff, 32),
        (0x6440_0000, 10),
    ];
    !PRIVATE.iter().any(|&(net, bits)| n >> (32 - bits) == net >> (32 - bits))
}

/// A global unicast IPv6 address (2000::/3) outside the documentation range 2001:db8::/32.
fn is_public_ipv6(s: &str) -> bool {
    let Ok(ip) = s.parse::<Ipv6Addr>() else { return false };
    let seg = ip.segments();
    seg[0] & 0xe000 == 0x2000 && !(seg[0] == 0x2001 && seg[1] == 0x0db8)
}

/// Luhn check and a known issuer prefix (Visa, Mastercard, Amex, Discover, JCB, Diners,
/// UnionPay), 13-19 digits.
fn is_card(m: &str) -> bool {
    let digits: Vec<u32> = m.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let prefix = |n: usize| digits[..n].iter().fold(0, |a, d| a * 10 + d);
    let issuer = digits[0] == 4
        || (51..=55).contains(&prefix(2))
        || (2221..=2720).contains(&prefix(4))
        || matches!(prefix(2), 34 | 37 | 35 | 36 | 38 | 30 | 62 | 65)
        || prefix(4) == 6011;
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    issuer && sum.is_multiple_of(10)
}

/// SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000.
fn is_ssn(m: &str) -> bool {
    let parts: Vec<u32> = m.split('-').filter_map(|p| p.parse().ok()).collect();
    let [area, group, serial] = parts[..] else { return false };
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// A North American number: area code and exchange start with 2-9.
fn is_nanp(m: &str) -> bool {
    let digits: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).collect();
    digits.len() == 10 && digits[0] >= b'2' && digits[3] >= b'2'
}

/// GB 11643-1999: ISO 7064 MOD 11-2 check character and a plausible birth date.
fn is_china_id(m: &str) -> bool {
    let b = m.as_bytes();
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = b[..17].iter().zip(W).map(|(&c, w)| (c - b'0') as u32 * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize];
    let num = |r: std::ops::Range<usize>| m[r].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (num(6..10), num(10..12), num(12..14));
    b[17].to_ascii_uppercase() == check
        && (1900..=2099).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(t: &str) -> (String, Counts) {
        let mut c = Counts::default();
        (Pii::default().redact(t, &mut c), c)
    }

    #[test]
    fn emails_and_ipv4_as_datatrove() {
        let (t, c) =
            redact("Mail bob@mail.example.net or alice.smith@uni.edu; server 8.8.8.8, LAN 192.168.1.1, 01.2.3.4.");
        assert_eq!(t, "Mail email@example.com or firstname.lastname@example.org; server 22.214.171.124, LAN 192.168.1.1, 01.2.3.4.");
        assert_eq!((c.get("pii_email"), c.get("pii_ipv4")), (2, 1));
        for (ip, global) in [
            ("8.8.8.8", true),
            ("10.1.2.3", false),
            ("127.0.0.1", false),
            ("100.64.0.1", false),
            ("172.32.0.1", true),
            ("224.0.0.1", true),
            ("255.255.255.255", false),
            ("203.0.113.9", false),
        ] {
            assert_eq!(is_public_ipv4(ip), global, "{ip}");
        }
    }

    #[test]
    fn ipv6_phones_cards_and_ids() {
        let (t, c) = redact(
            "v6 2606:4700:4700::1111 and ::1 and fe80::1 and 2001:db8::5; std::vector; 12:30:45. \
             Call +44 20 7946 0958 or (212) 555-7890 or 212-555-7890 or 13912345678. \
             Card 4111-1111-1111-1111 vs 1234 5678 9012 3456. SSN 123-45-6789 but 666-12-3456. \
             ID 11010519491231002X here.",
        );
        assert_eq!(
            t,
            "v6 2001:db8::1 and ::1 and fe80::1 and 2001:db8::5; std::vector; 12:30:45. \
             Call 555-0100 or 555-0100 or 555-0100 or 555-0100. \
             Card 4111 1111 1111 1111 vs 1234 5678 9012 3456. SSN 000-00-0000 but 666-12-3456. \
             ID 000000000000000000 here."
        );
        for (kind, n) in [("pii_ipv6", 1), ("pii_phone", 4), ("pii_card", 1), ("pii_ssn", 1), ("pii_china_id", 1)] {
            assert_eq!(c.get(kind), n, "{kind}: {c:?}");
        }
    }

    #[test]
    fn ordinary_numbers_stay() {
        let text = "Python 3.11.2 was released in 2023; see PEP 8, section 4.2, page 123-456, ISBN 978-3-16-148410-0.";
        assert_eq!(redact(text).0, text);
    }
}
