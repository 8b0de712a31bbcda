//! The same funnel computed by DuckDB from the flat CSV, when bench/.venv has DuckDB.

use std::path::Path;

pub fn compare(bench_dir: &Path, csv_path: &Path, funnel_ms: f64) -> anyhow::Result<()> {
    let python = bench_dir.join(".venv/bin/python");
    if !python.exists() {
        println!(
            "duckdb: skipped ({} missing; see the header of main.rs)",
            python.display()
        );
        return Ok(());
    }
    let out = std::process::Command::new(&python)
        .arg(bench_dir.join("duckdb_funnel.py"))
        .arg(csv_path)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    println!("duckdb: {}", text.trim());
    match serde_json::from_str::<serde_json::Value>(text.trim()) {
        Ok(v) => {
            let in_memory = v["funnel_in_memory_ms"].as_f64().unwrap_or(f64::NAN);
            let from_file = v["funnel_from_file_ms"].as_f64().unwrap_or(f64::NAN);
            println!(
                "ratio (duckdb / ours, funnel p50): {:.1}x against DuckDB's in-memory table, {:.1}x against DuckDB reading the file",
                in_memory / funnel_ms,
                from_file / funnel_ms
            );
        }
        Err(_) => println!("duckdb failed: {}", String::from_utf8_lossy(&out.stderr)),
    }
    Ok(())
}
