//! `minichat data extract`: the extraction stage alone, on HTML files.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ExtractArgs {
    /// HTML files, or folders of them (*.html, *.htm).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Compare trafilatura's external fallbacks (readability, justext) with each extraction.
    #[arg(long)]
    fallback: bool,
    /// Print one JSON line per file ({"file", "text"} or {"file", "error"}) instead of the text.
    #[arg(long)]
    json: bool,
}

/// Prints the main text of every file (decoded as a browser would: BOM, `<meta>` charset,
/// UTF-8, else a guess); a page without main text is reported with the reason, not fatal.
pub fn run(a: ExtractArgs) -> Result<()> {
    let files = minichat_corpus::files_in(&a.inputs, &[".html", ".htm"], "HTML files")?;
    let extractor = minichat_data::extract::Extractor::default().with_fallback(a.fallback);
    let (mut ok, mut none) = (0, 0);
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let html = minichat_data::charset::decode(&bytes, None).text;
        let result = extractor.extract(&html);
        match (&result, a.json) {
            (Ok(text), true) => println!("{}", serde_json::json!({ "file": file, "text": text })),
            (Err(why), true) => println!("{}", serde_json::json!({ "file": file, "error": why })),
            (Ok(text), false) => println!("==> {} <==\n{text}\n", file.display()),
            (Err(why), false) => println!("==> {} <==\n(no main text: {why})\n", file.display()),
        }
        match result {
            Ok(_) => ok += 1,
            Err(_) => none += 1,
        }
    }
    eprintln!("{} files: {ok} with main text, {none} without", files.len());
    Ok(())
}
