//! One script, one width, one case: `華為科技（北京）` and `华为科技(北京)` fold to one text.

use std::sync::LazyLock;

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;

use crate::domain::normalize::{clean_text, folded};

/// Names and companies longer than this are not names; folding stops here so hostile
/// input costs bounded work (the gRPC boundary refuses such fields before this).
pub const MAX_FOLD_CHARS: usize = 200;

/// OpenCC's traditional -> simplified chain, built once from dictionaries compiled into
/// the binary. `None` only if those embedded dictionaries were corrupt, in which case
/// text is compared unconverted rather than failing every lead.
static TO_SIMPLIFIED: LazyLock<Option<OpenCC>> = LazyLock::new(|| {
    OpenCC::from_config(BuiltinConfig::T2s)
        .inspect_err(|err| tracing::error!(error = %err, "traditional chinese folding unavailable"))
        .ok()
});

/// NFKC (full width to half width), invisible characters removed, traditional hanzi
/// turned simplified, lower-cased, whitespace runs collapsed to one space.
pub fn fold(raw: &str) -> String {
    let bounded: String = raw.chars().take(MAX_FOLD_CHARS).collect();
    let clean = clean_text(&bounded);
    let simplified = match (&*TO_SIMPLIFIED, clean.chars().any(is_han)) {
        (Some(opencc), true) => opencc.convert(&clean),
        _ => clean,
    };
    // Lower-cased with NFKC until both settle ("İ" lower-cases to "i" and a combining
    // dot that NFKC then reorders); text that never settles is no name at all.
    folded(simplified)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A CJK unified ideograph (the basic block and extension A, where names live).
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

pub fn has_han(text: &str) -> bool {
    text.chars().any(is_han)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_full_width_and_case_fold_to_one_text() {
        assert_eq!(fold("華為科技（北京）有限公司"), "华为科技(北京)有限公司");
        assert_eq!(fold("王總"), "王总");
        assert_eq!(fold("  ＷＡＮＧ   Wei\u{200B} "), "wang wei");
        assert_eq!(fold("歐陽娜娜"), "欧阳娜娜");
    }

    #[test]
    fn lower_casing_that_unsettles_nfkc_still_folds_to_a_fixed_point() {
        // "İ" lower-cases to "i" + U+0307, which must follow the combining U+11A34.
        let once = fold("İ\u{11a34}");
        assert_eq!(once, "i\u{11a34}\u{307}");
        assert_eq!(fold(&once), once);
    }

    #[test]
    fn folding_is_bounded_and_total() {
        assert_eq!(fold(""), "");
        assert_eq!(fold("\u{0}\u{7}😀").chars().count(), 1);
        assert_eq!(fold(&"華".repeat(10_000)).chars().count(), MAX_FOLD_CHARS);
    }
}
