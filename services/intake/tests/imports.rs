//! ImportLeads through the real gRPC API: a GBK-encoded CSV and an xlsx file, each with
//! bad rows in the middle, on SQLite and PostgreSQL.

mod support;

use std::time::Duration;

use futures::StreamExt as _;
use prost::Message as _;
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::events::{Envelope, Event as _};
use shangji_contracts::intake::import_leads_request::Part;
use shangji_contracts::intake::intake_service_client::IntakeServiceClient;
use shangji_contracts::intake::{
    ColumnMapping, GetImportReportRequest, GetLeadRequest, ImportLeadsRequest, ImportMetadata,
    ImportProgress, ImportState, ListMappingPresetsRequest, MappingPreset,
    UpsertMappingPresetRequest,
};
use support::{Backend, Harness, postgres_or_skip, violated_fields, with_tenant};
use tonic::transport::Channel;

/// Uploads `bytes` in `chunk`-byte pieces; returns every progress message.
async fn upload(
    client: &mut IntakeServiceClient<Channel>,
    tenant: &str,
    metadata: ImportMetadata,
    bytes: &[u8],
    chunk: usize,
) -> Vec<ImportProgress> {
    let mut messages = vec![ImportLeadsRequest {
        part: Some(Part::Metadata(metadata)),
    }];
    messages.extend(bytes.chunks(chunk).map(|c| ImportLeadsRequest {
        part: Some(Part::Chunk(c.to_vec())),
    }));
    let mut progress = client
        .import_leads(with_tenant(futures::stream::iter(messages), tenant))
        .await
        .unwrap()
        .into_inner();
    let mut all = Vec::new();
    while let Some(message) = progress.next().await {
        all.push(message.unwrap());
    }
    all
}

fn last(progress: &[ImportProgress]) -> &ImportProgress {
    progress
        .last()
        .expect("at least the final progress message")
}

/// Two good rows, a row with a bad phone (with a NUL byte in it), a blank line, a row naming nobody, a good row.
fn gbk_csv() -> Vec<u8> {
    let text = "姓名,手机,公司,微信,需求\r\n\
                张三,13800138000,华为技术有限公司,zs01,CRM\r\n\
                李四,13900000000,中兴通讯,,\"销售管理\r\n两个部门\"\r\n\
                王五,1\x002,阿里巴巴,ww,ERP\r\n\
                \r\n\
                ,13700000000,,,\r\n\
                赵六,13600000000,腾讯,zl,MES\r\n";
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

async fn gbk_csv_import(backend: Backend) {
    let mut h = Harness::start(backend).await;
    let bytes = gbk_csv();
    let metadata = ImportMetadata {
        file_name: "展会名单.csv".into(),
        import_key: "sha256-of-the-file".into(),
        campaign: "2026 秋季展会".into(),
        ..Default::default()
    };
    // Small chunks: characters and rows are cut across messages.
    let progress = upload(&mut h.client, "acme", metadata.clone(), &bytes, 7).await;
    let done = last(&progress);
    assert_eq!(done.state, ImportState::Done as i32, "{done:?}");
    assert_eq!(done.encoding, "GBK");
    assert_eq!(
        (done.rows_read, done.accepted, done.replayed, done.rejected),
        (5, 3, 0, 2)
    );
    let problems: Vec<_> = progress.iter().flat_map(|p| p.problems.clone()).collect();
    let lines: Vec<(i64, &str, &str)> = problems
        .iter()
        .map(|p| (p.row, p.field.as_str(), p.column.as_str()))
        .collect();
    // Rows numbered by record: the header is row 1, the quoted cell with a line break
    // stays in row 3, the blank line carries no number.
    assert_eq!(
        lines,
        [
            (4, "lead.phone", "手机"),
            (4, "lead.phone", "手机"),
            (5, "lead", "")
        ],
        "{problems:?}"
    );
    assert!(problems[0].message.contains("control characters"));
    assert!(problems[2].message.contains("contact_name or a company"));

    // The report is kept.
    let report = h
        .client
        .get_import_report(with_tenant(
            GetImportReportRequest {
                import_id: done.import_id.clone(),
                page_size: 1,
                ..Default::default()
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.file_name, "展会名单.csv");
    assert_eq!(report.encoding, "GBK");
    assert_eq!(report.state, ImportState::Done as i32);
    assert_eq!((report.accepted, report.rejected), (3, 2));
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].row, 4);
    let rest = h
        .client
        .get_import_report(with_tenant(
            GetImportReportRequest {
                import_id: done.import_id.clone(),
                page_size: 10,
                page_token: report.next_page_token.clone(),
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.problems.len(), 2);
    // The bad phone holds a NUL byte, which PostgreSQL does not store: written out.
    assert_eq!(rest.problems[0].row, 4);
    assert!(
        rest.problems[0].message.contains("`1\\02` has 2 digits"),
        "{:?}",
        rest.problems[0]
    );
    assert_eq!(rest.problems[1].row, 5);
    assert!(rest.next_page_token.is_empty());

    // The same file again: nothing is created twice.
    let again = upload(&mut h.client, "acme", metadata, &bytes, 4096).await;
    let again = last(&again);
    assert_eq!(
        (again.accepted, again.replayed, again.rejected),
        (0, 3, 2),
        "{again:?}"
    );
    assert_ne!(again.import_id, done.import_id);

    // Another tenant's import of the same file is its own.
    let theirs = upload(
        &mut h.client,
        "globex",
        ImportMetadata {
            file_name: "list.csv".into(),
            import_key: "sha256-of-the-file".into(),
            ..Default::default()
        },
        &bytes,
        4096,
    )
    .await;
    assert_eq!(last(&theirs).accepted, 3);
    let err = h
        .client
        .get_import_report(with_tenant(
            GetImportReportRequest {
                import_id: done.import_id.clone(),
                ..Default::default()
            },
            "globex",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gbk_csv_with_bad_rows_imports_the_good_ones_once_on_sqlite() {
    gbk_csv_import(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gbk_csv_with_bad_rows_imports_the_good_ones_once_on_postgres() {
    if postgres_or_skip("a_gbk_csv_with_bad_rows_imports_the_good_ones_once_on_postgres") {
        gbk_csv_import(Backend::Postgres).await;
    }
}

fn xlsx_file() -> Vec<u8> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    let rows: [[&str; 4]; 5] = [
        ["客户名称", "联系人", "电话号码", "备注"],
        ["华为技术有限公司", "张三", "13800138000", "老客户"],
        ["中兴通讯", "李四", "not a phone", ""],
        ["阿里巴巴", "王五", "", ""],
        ["腾讯", "赵六", "", "zl@tencent.com"],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(r as u32, c as u16, *cell).unwrap();
            }
        }
    }
    // A number cell: phones typed into Excel are numbers, and must read back whole.
    sheet.write_number(5, 0, 0.0).unwrap();
    sheet.write_string(5, 0, "美团").unwrap();
    sheet.write_number(5, 2, 13_500_000_000.0).unwrap();
    workbook.save_to_buffer().unwrap()
}

/// `xlsx` with its cell C3 moved to column AAAAAAA (about 3.2 × 10⁸).
fn with_cell_far_right(xlsx: &[u8]) -> Vec<u8> {
    use std::io::{Read as _, Write as _};
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let name = file.name().unwrap().into_owned();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            let text = String::from_utf8(content).unwrap();
            assert!(text.contains(r#"r="C3""#), "{text}");
            content = text.replace(r#"r="C3""#, r#"r="AAAAAAA3""#).into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&content).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_xlsx_file_with_a_saved_mapping_dry_run_then_for_real() {
    let mut h = Harness::start(Backend::Sqlite).await;
    // The file's headers are not the usual ones: a saved preset maps them.
    let preset = MappingPreset {
        name: "展会导出".into(),
        columns: vec![
            ColumnMapping {
                header: "客户名称".into(),
                field: "company".into(),
            },
            ColumnMapping {
                header: "电话号码".into(),
                field: "phone".into(),
            },
            ColumnMapping {
                header: "备注".into(),
                field: "email".into(),
            },
        ],
        ..Default::default()
    };
    h.client
        .upsert_mapping_preset(with_tenant(
            UpsertMappingPresetRequest {
                idempotency_key: "preset-1".into(),
                preset: Some(preset),
            },
            "acme",
        ))
        .await
        .unwrap();
    let presets = h
        .client
        .list_mapping_presets(with_tenant(ListMappingPresetsRequest {}, "acme"))
        .await
        .unwrap()
        .into_inner()
        .presets;
    assert_eq!(presets.len(), 1);
    assert_eq!(presets[0].columns.len(), 3);

    let metadata = ImportMetadata {
        file_name: "leads.xlsx".into(),
        mapping_preset: "展会导出".into(),
        // The upload's own entry wins over the preset's: 备注 is a note, not an e-mail.
        columns: vec![ColumnMapping {
            header: "备注".into(),
            field: "remark".into(),
        }],
        import_key: "xlsx-1".into(),
        dry_run: true,
        ..Default::default()
    };
    let bytes = xlsx_file();
    let dry = upload(&mut h.client, "acme", metadata.clone(), &bytes, 1000).await;
    let dry = last(&dry);
    assert_eq!(dry.state, ImportState::Done as i32, "{dry:?}");
    assert_eq!((dry.rows_read, dry.accepted, dry.rejected), (5, 2, 3));

    let real = upload(
        &mut h.client,
        "acme",
        ImportMetadata {
            dry_run: false,
            ..metadata
        },
        &bytes,
        1000,
    )
    .await;
    let problems: Vec<_> = real.iter().flat_map(|p| p.problems.clone()).collect();
    let real = last(&real);
    // The dry run stored nothing: every good row is new now.
    assert_eq!((real.accepted, real.replayed, real.rejected), (2, 0, 3));
    let rows: Vec<(i64, &str, &str)> = problems
        .iter()
        .map(|p| (p.row, p.field.as_str(), p.column.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            (3, "lead.phone", "电话号码"),
            (4, "lead", ""),
            (5, "lead", "")
        ]
    );

    let report = h
        .client
        .get_import_report(with_tenant(
            GetImportReportRequest {
                import_id: real.import_id.clone(),
                ..Default::default()
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.problems.len(), 3);
    assert!(!report.dry_run);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_uploads_fail_with_a_reason() {
    let mut h = Harness::start(Backend::Sqlite).await;
    let err = h
        .client
        .import_leads(with_tenant(
            futures::stream::iter(vec![ImportLeadsRequest {
                part: Some(Part::Metadata(ImportMetadata {
                    file_name: "leads.pdf".into(),
                    mapping_preset: "missing".into(),
                    ..Default::default()
                })),
            }]),
            "acme",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["metadata.format"]);

    let broken = upload(
        &mut h.client,
        "acme",
        ImportMetadata {
            file_name: "leads.xlsx".into(),
            ..Default::default()
        },
        b"this is not a zip archive",
        10,
    )
    .await;
    let broken = last(&broken);
    assert_eq!(broken.state, ImportState::Failed as i32);
    assert!(
        broken.error.contains("not a readable xlsx file"),
        "{}",
        broken.error
    );

    let empty = upload(
        &mut h.client,
        "acme",
        ImportMetadata {
            file_name: "empty.csv".into(),
            ..Default::default()
        },
        b"",
        10,
    )
    .await;
    assert!(last(&empty).error.contains("the file is empty"));

    // A cell reference past the last column a sheet can have (XFD): refused with its row,
    // not a row grown to hundreds of millions of cells.
    let crafted = upload(
        &mut h.client,
        "acme",
        ImportMetadata {
            file_name: "crafted.xlsx".into(),
            ..Default::default()
        },
        &with_cell_far_right(&xlsx_file()),
        4096,
    )
    .await;
    let crafted = last(&crafted);
    assert_eq!(crafted.state, ImportState::Failed as i32, "{crafted:?}");
    assert!(
        crafted.error.contains("row 3") && crafted.error.contains("beyond the last column"),
        "{}",
        crafted.error
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_leads_are_announced_and_carry_their_attribution() {
    let mut h = Harness::start(Backend::Sqlite).await;
    let nats = async_nats::connect(h.nats.url()).await.unwrap();
    let mut received = nats.subscribe(LeadReceived::subject()).await.unwrap();
    let csv = "\u{feff}name,phone,company\nWang Wei,13800138000,Acme\n";
    let progress = upload(
        &mut h.client,
        "acme",
        ImportMetadata {
            file_name: "expo.csv".into(),
            campaign: "expo-2026".into(),
            ..Default::default()
        },
        csv.as_bytes(),
        1 << 16,
    )
    .await;
    assert_eq!(last(&progress).encoding, "UTF-8 with BOM");
    assert_eq!(last(&progress).accepted, 1);

    let message = tokio::time::timeout(Duration::from_secs(10), received.next())
        .await
        .expect("lead.received published")
        .unwrap();
    let envelope = Envelope::decode(message.payload.as_ref()).unwrap();
    let event = LeadReceived::decode(envelope.payload.as_slice()).unwrap();
    assert_eq!(event.channel, "import");
    // The BOM is not part of the first header: `name` was recognised.
    assert_eq!(event.lead.as_ref().unwrap().contact_name, "Wang Wei");
    let got = h
        .client
        .get_lead_source(with_tenant(
            GetLeadRequest {
                lead_id: event.lead_id.clone(),
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner();
    let attribution = got.attribution.unwrap();
    assert_eq!(
        (
            attribution.channel.as_str(),
            attribution.channel_id.as_str(),
            attribution.campaign.as_str()
        ),
        ("import", "expo.csv", "expo-2026")
    );
    let lead = h
        .client
        .get_lead(with_tenant(
            GetLeadRequest {
                lead_id: event.lead_id,
            },
            "acme",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead.trail[0].detail, "received via import (expo.csv)");
    h.stop().await;
}
