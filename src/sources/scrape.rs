//! Cleaning what scraping left in the port list's texts (the excerpt as captured from a web page,
//! the list as converted from the article): page text glued to a description, footnote marks,
//! sentences run together or cut off. Each rule is one function, applied in [`clean`]'s order;
//! `data/README.md` lists them.

/// Words that open a web page's link or button text ("Create mail server monitor"), never a
/// description's last sentence.
const CALLS_TO_ACTION: [&str; 8] = [
    "Create", "Click", "Download", "Learn", "Read", "See", "Sign", "Try",
];

/// A description with every rule applied.
pub(crate) fn clean(text: &str) -> String {
    let text = drop_footnote_marks(text);
    let text = split_glued_sentences(&text);
    let text = drop_link_text(&text);
    drop_cut_clause(&text)
}

/// Footnote marks, `[12]`, `[note 3]` and `[citation needed]`, are dropped with the blank
/// before them. Other brackets (`mpm (Message Processing Module [recv])`) stay.
fn drop_footnote_marks(text: &str) -> String {
    let is_mark = |inside: &str| {
        let number = inside.strip_prefix("note ").unwrap_or(inside);
        inside == "citation needed"
            || (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        if is_mark(&rest[open + 1..close]) {
            out.push_str(rest[..open].trim_end_matches(' '));
        } else {
            out.push_str(&rest[..=close]);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A sentence run into the next without a blank (`Login Host protocol.TACACS+, still ...`)
/// gets one: a period between a word of three or more lower-case letters and a capital.
/// `ASP.NET` and `Net.TCP` stay, the word before their period not being lower-case.
fn split_glued_sentences(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    // The length of the word so far while it is all lower-case letters.
    let mut lower: Option<usize> = Some(0);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        let capital_next = chars.peek().is_some_and(char::is_ascii_uppercase);
        if c == '.' && lower.is_some_and(|n| n >= 3) && capital_next {
            out.push(' ');
        }
        lower = if c.is_ascii_lowercase() {
            lower.map(|n| n + 1)
        } else if c.is_alphanumeric() {
            None
        } else {
            Some(0)
        };
    }
    out
}

/// Link text after the last sentence (`... between mail servers. Create mail server monitor`)
/// is dropped: a fragment after `. ` that starts with a call to action ([`CALLS_TO_ACTION`])
/// and has no full stop of its own.
fn drop_link_text(text: &str) -> String {
    if let Some(end) = text.rfind(". ") {
        let fragment = &text[end + 2..];
        let first = fragment.split(' ').next().unwrap_or_default();
        if CALLS_TO_ACTION.contains(&first) && !fragment.ends_with(['.', '!', '?', ')']) {
            return text[..=end].to_owned();
        }
    }
    text.to_owned()
}

/// A description cut off mid-sentence (it ends in `,` or `;`, where the source's table cell
/// went on in markup the capture lost) keeps its complete sentences when it has any, else
/// loses the dangling mark: `Historic. Both TCP and UDP have been assigned to TCPMUX by IANA,`
/// ends at `Historic.`, `Network News Transfer Protocol (NNTP),` at `(NNTP)`.
fn drop_cut_clause(text: &str) -> String {
    let Some(cut) = text.strip_suffix([',', ';']) else {
        return text.to_owned();
    };
    match cut.rfind(". ") {
        Some(end) => cut[..=end].to_owned(),
        None => cut.trim_end().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footnote_marks_are_dropped_other_brackets_kept() {
        assert_eq!(drop_footnote_marks("Echo Protocol [12]"), "Echo Protocol");
        assert_eq!(
            drop_footnote_marks("Time[note 3] service [citation needed]."),
            "Time service."
        );
        assert_eq!(
            drop_footnote_marks("mpm (Message Processing Module [recv])"),
            "mpm (Message Processing Module [recv])"
        );
        assert_eq!(drop_footnote_marks("odd [ bracket"), "odd [ bracket");
    }

    #[test]
    fn glued_sentences_get_a_blank() {
        assert_eq!(
            split_glued_sentences("TACACS Login Host protocol.TACACS+, still in draft"),
            "TACACS Login Host protocol. TACACS+, still in draft"
        );
        assert_eq!(
            split_glued_sentences("WCF Net.TCP port"),
            "WCF Net.TCP port"
        );
        assert_eq!(
            split_glued_sentences("ASP.NET and v1.X"),
            "ASP.NET and v1.X"
        );
        assert_eq!(split_glued_sentences("see a.B"), "see a.B");
    }

    #[test]
    fn trailing_link_text_is_dropped() {
        assert_eq!(
            drop_link_text(
                "Simple Mail Transfer Protocol (SMTP), used for email routing between mail \
                 servers. Create mail server monitor"
            ),
            "Simple Mail Transfer Protocol (SMTP), used for email routing between mail servers."
        );
        let kept = "Historic. See RFC 1078.";
        assert_eq!(drop_link_text(kept), kept, "a sentence of its own stays");
        let kept = "Xbox LIVE. Halo multiplayer";
        assert_eq!(drop_link_text(kept), kept, "not a call to action");
    }

    #[test]
    fn cut_clauses_go_back_to_the_last_sentence() {
        assert_eq!(
            drop_cut_clause(
                "TCP Port Service Multiplexer (TCPMUX). Historic. Both TCP and UDP have been \
                 assigned to TCPMUX by IANA,"
            ),
            "TCP Port Service Multiplexer (TCPMUX). Historic."
        );
        assert_eq!(
            drop_cut_clause("Network News Transfer Protocol (NNTP),"),
            "Network News Transfer Protocol (NNTP)"
        );
        assert_eq!(
            drop_cut_clause("ISO TSAP Class 0 protocol;"),
            "ISO TSAP Class 0 protocol"
        );
        assert_eq!(drop_cut_clause("Whole text"), "Whole text");
    }

    #[test]
    fn clean_applies_every_rule() {
        assert_eq!(
            clean("Mail [3] routing.Between servers. Click here"),
            "Mail routing. Between servers."
        );
    }
}
