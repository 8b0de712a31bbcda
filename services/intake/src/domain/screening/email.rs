//! E-mail addresses nobody reads: throwaway-mailbox domains (a list compiled in from
//! `disposable_domains.txt`, subdomains included) and the names reserved for examples and
//! tests (RFC 2606 / 6761: example.com, *.test, *.invalid, ...).

use std::collections::HashSet;
use std::sync::LazyLock;

use super::Problem;

static DISPOSABLE: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("disposable_domains.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// Domains that can never be a real mailbox, or are only ever used to type something in.
const EXAMPLE_DOMAINS: [&str; 4] = ["example.com", "example.net", "example.org", "test.com"];
const RESERVED_TLDS: [&str; 4] = ["test", "example", "invalid", "localhost"];

/// The address's domain, lower case, without a trailing dot; None when there is no `@`.
pub fn domain(email: &str) -> Option<String> {
    let (_, domain) = email.trim().rsplit_once('@')?;
    Some(domain.trim_end_matches('.').to_lowercase())
}

/// The local part, lower case.
pub fn local_part(email: &str) -> &str {
    email.trim().rsplit_once('@').map_or("", |(local, _)| local)
}

/// The domain and each parent of it: a.b.mailinator.com, b.mailinator.com, mailinator.com.
fn suffixes(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(domain), |d| d.split_once('.').map(|(_, rest)| rest))
        .filter(|d| d.contains('.'))
}

pub fn is_disposable(domain: &str) -> bool {
    suffixes(domain).any(|d| DISPOSABLE.contains(d))
}

pub fn is_example(domain: &str) -> bool {
    let tld = domain.rsplit('.').next().unwrap_or("");
    RESERVED_TLDS.contains(&tld) || suffixes(domain).any(|d| EXAMPLE_DOMAINS.contains(&d))
}

/// Why the address is on a throwaway domain, if it is.
pub fn check_disposable(email: &str) -> Option<Problem> {
    let domain = domain(email)?;
    is_disposable(&domain).then(|| {
        (
            format!("邮箱“{}”属于一次性邮箱域名 {domain}", email.trim()),
            format!(
                "`{}` is on {domain}, a throwaway-mailbox domain",
                email.trim()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throwaway_domains_and_their_subdomains_are_known() {
        for bad in [
            "a@mailinator.com",
            "x@MAILINATOR.com",
            "x@inbox.guerrillamail.com",
            "x@yopmail.fr.",
            "x@sharklasers.com",
            "x@temp-mail.org",
        ] {
            assert!(check_disposable(bad).is_some(), "{bad}");
        }
        for ok in [
            "wang@huawei.com",
            "li@qq.com",
            "zhao@163.com",
            "a@notmailinator.com",
        ] {
            assert!(check_disposable(ok).is_none(), "{ok}");
        }
        let (zh, en) = check_disposable("a@mailinator.com").unwrap();
        assert!(zh.contains("一次性邮箱"));
        assert!(en.contains("mailinator.com"));
    }

    #[test]
    fn reserved_example_names_are_known() {
        assert!(is_example("example.com"));
        assert!(is_example("mail.example.org"));
        assert!(is_example("shop.test"));
        assert!(is_example("test.com"));
        assert!(!is_example("bench.example.cn"));
        assert!(!is_example("contest.com"));
        assert_eq!(local_part(" Test@x.com"), "Test");
        assert_eq!(domain("a@Example.COM").as_deref(), Some("example.com"));
    }
}
