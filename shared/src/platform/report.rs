//! What every report of ours is made of: nearest-rank percentiles,
//! percentages with one decimal, and CSV documents that spreadsheets open
//! with Cyrillic intact. Shared by broadcast analytics and communication
//! analytics, so both define their numbers the same way.

use crate::platform::error::{Error, Result};

/// Nearest-rank percentile `p` (0–100) of `sorted` (ascending); `None` when
/// it is empty.
pub fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// `count` as a percentage of `of`, rounded to one decimal; 0 when `of` is 0.
pub fn percent(count: i64, of: i64) -> f64 {
    if of > 0 {
        (count as f64 * 1000.0 / of as f64).round() / 10.0
    } else {
        0.0
    }
}

/// A CSV document: UTF-8 with a byte-order mark (so spreadsheets open
/// Cyrillic names correctly), the `header` row, then `rows`.
pub fn csv_document<I, R>(header: &[&str], rows: I) -> Result<Vec<u8>>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    let fail = |e: ::csv::Error| Error::Internal(format!("csv: {e}"));
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = ::csv::Writer::from_writer(&mut out);
        w.write_record(header).map_err(fail)?;
        for r in rows {
            w.write_record(r).map_err(fail)?;
        }
        w.flush()
            .map_err(|e| Error::Internal(format!("csv: {e}")))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&v, 99), Some(10));
        assert_eq!(percentile(&[7], 1), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn percentages_have_one_decimal() {
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(2, 3), 66.7);
        assert_eq!(percent(5, 0), 0.0);
    }

    #[test]
    fn csv_starts_with_a_byte_order_mark_and_quotes_as_needed() {
        let doc =
            csv_document(&["a", "b"], vec![vec!["1".to_owned(), "x, y".to_owned()]]).expect("csv");
        assert_eq!(
            String::from_utf8(doc).expect("utf8"),
            "\u{feff}a,b\n1,\"x, y\"\n"
        );
    }
}
