//! Tables as the reports show them, and the same tables as CSV and XLSX files. One shape for
//! every report, so every table exports the same way and a spreadsheet holds exactly the
//! numbers the page shows.

use serde::Serialize;

/// A cell: text, a number, or nothing.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<f64> for Cell {
    fn from(x: f64) -> Cell {
        Cell::Number(x)
    }
}

impl From<i64> for Cell {
    fn from(x: i64) -> Cell {
        // Counts and money stay far below 2^53: exact as f64.
        Cell::Number(x as f64)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(x: Option<T>) -> Cell {
        x.map_or(Cell::Empty, Into::into)
    }
}

/// A column: its key (JSON), and its headings in English and Chinese.
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    pub key: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
}

pub const fn col(key: &'static str, en: &'static str, zh: &'static str) -> Column {
    Column { key, en, zh }
}

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    /// File name without extension, e.g. `payroll-2026-11`.
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Table {
    fn headings(&self, lang: Lang) -> Vec<&'static str> {
        self.columns
            .iter()
            .map(|c| if lang == Lang::Zh { c.zh } else { c.en })
            .collect()
    }

    /// CSV with a header row; numbers as Rust prints them (shortest exact form). It starts
    /// with a UTF-8 byte-order mark: without it Excel on Windows reads Chinese names as
    /// gibberish.
    pub fn to_csv(&self, lang: Lang) -> anyhow::Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        w.write_record(self.headings(lang))?;
        for row in &self.rows {
            w.write_record(row.iter().map(|c| match c {
                Cell::Text(s) => csv_text(s),
                Cell::Number(x) => x.to_string(),
                Cell::Empty => String::new(),
            }))?;
        }
        w.into_inner()
            .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))
    }

    /// One worksheet with a bold header row; numbers are numbers (a spreadsheet can sum
    /// them), not text.
    pub fn to_xlsx(&self, lang: Lang) -> anyhow::Result<Vec<u8>> {
        use rust_xlsxwriter::{Format, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        let bold = Format::new().set_bold();
        for (c, heading) in self.headings(lang).iter().enumerate() {
            sheet.write_string_with_format(0, col_index(c)?, *heading, &bold)?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = u32::try_from(r + 1).map_err(|_| anyhow::anyhow!("too many rows"))?;
            for (c, cell) in row.iter().enumerate() {
                match cell {
                    Cell::Text(s) => {
                        sheet.write_string(r, col_index(c)?, s)?;
                    }
                    Cell::Number(x) => {
                        sheet.write_number(r, col_index(c)?, *x)?;
                    }
                    Cell::Empty => {}
                }
            }
        }
        Ok(book.save_to_buffer()?)
    }
}

/// A text cell as CSV holds it. Names, teams and plan names are typed by people; one that
/// starts like a formula (`=`, `+`, `-`, `@`, a tab or a carriage return) would run as one
/// when the file is opened in a spreadsheet, so it is prefixed with an apostrophe, which
/// spreadsheets show as text. XLSX cells are typed as text already and need nothing.
fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn col_index(c: usize) -> anyhow::Result<u16> {
    u16::try_from(c).map_err(|_| anyhow::anyhow!("too many columns"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_that_look_like_formulas_stay_text() {
        let table = Table {
            name: "t".into(),
            columns: vec![col("name", "Name", "姓名"), col("pay", "Pay", "奖金")],
            rows: vec![
                vec![Cell::from("=HYPERLINK(\"http://x\")"), Cell::from(-10i64)],
                vec![Cell::from("@SUM(A1)"), Cell::from(0i64)],
                vec![Cell::from("-2+3"), Cell::from(1i64)],
                vec![Cell::from("王芳"), Cell::Empty],
            ],
        };
        let csv = String::from_utf8(table.to_csv(Lang::En).expect("csv")).expect("utf-8");
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"http://x\"\")\",-10");
        assert_eq!(lines[2], "'@SUM(A1),0");
        assert_eq!(
            lines[3], "'-2+3,1",
            "numbers stay numbers; text starting with - is quoted"
        );
        assert_eq!(lines[4], "王芳,");
    }
}
