//! The `shangji.analytics.v1.AnalyticsService` gRPC service.

mod access;
mod csv;
pub mod query;
mod rebuild;
pub mod reports;

use std::pin::Pin;

use async_nats::jetstream;
use futures::Stream;
use shangji_contracts::analytics::analytics_service_server::AnalyticsService;
use shangji_contracts::analytics::{
    CsvChunk, ExportCsvRequest, ForecastResponse, FunnelRequest, FunnelResponse,
    RebuildReadModelsRequest, RebuildReadModelsResponse, RepActivityResponse, Report,
    ReportRequest, SourceQualityResponse, StageCycleTimesResponse, WinLossResponse,
};
use shangji_contracts::time::to_millis;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, request_context};
use tonic::{Request, Response, Status};

use crate::config::AnalyticsConfig;
use crate::domain::period::day_key;
use access::UnknownCaller;
use query::report_query;

#[derive(Clone, Debug)]
pub struct AnalyticsApi {
    db: Db,
    jetstream: jetstream::Context,
    config: AnalyticsConfig,
}

impl AnalyticsApi {
    pub fn new(db: Db, jetstream: jetstream::Context, config: AnalyticsConfig) -> AnalyticsApi {
        AnalyticsApi {
            db,
            jetstream,
            config,
        }
    }

    async fn funnel_report(
        &self,
        tenant: &str,
        ctx: &shangji_platform::grpc::RequestContext,
        req: &FunnelRequest,
    ) -> Result<FunnelResponse, ApiError> {
        let q = report_query(
            &self.db,
            ctx,
            req.filter.as_ref(),
            Some(&req.owner_rep_id),
            UnknownCaller::Tenant,
        )
        .await?;
        match &req.as_of {
            Some(at) => reports::funnel_as_of(&self.db, tenant, &q, day_key(to_millis(at))).await,
            None => reports::funnel(&self.db, tenant, &q).await,
        }
    }
}

pub type CsvStream = Pin<Box<dyn Stream<Item = Result<CsvChunk, Status>> + Send>>;

#[tonic::async_trait]
impl AnalyticsService for AnalyticsApi {
    async fn funnel(
        &self,
        request: Request<FunnelRequest>,
    ) -> Result<Response<FunnelResponse>, Status> {
        let ctx = request_context(&request)?;
        let req = request.into_inner();
        let response = self.funnel_report(&ctx.tenant_id, &ctx, &req).await?;
        Ok(Response::new(response))
    }

    async fn stage_cycle_times(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<StageCycleTimesResponse>, Status> {
        let ctx = request_context(&request)?;
        let req = request.into_inner();
        let q = report_query(
            &self.db,
            &ctx,
            req.filter.as_ref(),
            None,
            UnknownCaller::Refuse,
        )
        .await?;
        Ok(Response::new(
            reports::stage_cycle_times(&self.db, &ctx.tenant_id, &q).await?,
        ))
    }

    async fn win_loss(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<WinLossResponse>, Status> {
        let ctx = request_context(&request)?;
        let req = request.into_inner();
        let q = report_query(
            &self.db,
            &ctx,
            req.filter.as_ref(),
            None,
            UnknownCaller::Refuse,
        )
        .await?;
        Ok(Response::new(
            reports::win_loss(&self.db, &ctx.tenant_id, &q).await?,
        ))
    }

    async fn rep_activity(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<RepActivityResponse>, Status> {
        let ctx = request_context(&request)?;
        let req = request.into_inner();
        let q = report_query(
            &self.db,
            &ctx,
            req.filter.as_ref(),
            None,
            UnknownCaller::Refuse,
        )
        .await?;
        Ok(Response::new(
            reports::rep_activity(&self.db, &ctx.tenant_id, &q).await?,
        ))
    }

    async fn source_quality(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<SourceQualityResponse>, Status> {
        let ctx = request_context(&request)?;
        let req = request.into_inner();
        let q = report_query(
            &self.db,
            &ctx,
            req.filter.as_ref(),
            None,
            UnknownCaller::Refuse,
        )
        .await?;
        Ok(Response::new(
            reports::source_quality(&self.db, &ctx.tenant_id, &q).await?,
        ))
    }

    async fn forecast(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<ForecastResponse>, Status> {
        let ctx = request_context(&request)?;
        let req = request.into_inner();
        let q = report_query(
            &self.db,
            &ctx,
            req.filter.as_ref(),
            None,
            UnknownCaller::Refuse,
        )
        .await?;
        Ok(Response::new(
            reports::forecast(&self.db, &ctx.tenant_id, &q, self.config.thresholds()).await?,
        ))
    }

    async fn rebuild_read_models(
        &self,
        request: Request<RebuildReadModelsRequest>,
    ) -> Result<Response<RebuildReadModelsResponse>, Status> {
        let ctx = request_context(&request)?;
        let req = request.into_inner();
        Ok(Response::new(
            rebuild::rebuild(&self.db, &self.jetstream, &ctx, &req).await?,
        ))
    }

    type ExportCsvStream = CsvStream;

    async fn export_csv(
        &self,
        request: Request<ExportCsvRequest>,
    ) -> Result<Response<CsvStream>, Status> {
        let ctx = request_context(&request)?;
        let req = request.into_inner();
        let tenant = ctx.tenant_id.as_str();
        let report = Report::try_from(req.report).unwrap_or(Report::Unspecified);
        let unknown = if report == Report::Funnel {
            UnknownCaller::Tenant
        } else {
            UnknownCaller::Refuse
        };
        if report == Report::Unspecified {
            return Err(ApiError::invalid_field(
                "report",
                "name the report to export (REPORT_FUNNEL, REPORT_WIN_LOSS, ...)",
            )
            .into());
        }
        if req.as_of.is_some() && report != Report::Funnel {
            return Err(ApiError::invalid_field(
                "as_of",
                "only the funnel can be exported as of a day",
            )
            .into());
        }
        let db = &self.db;
        let chunks = if report == Report::Funnel {
            let funnel = FunnelRequest {
                owner_rep_id: String::new(),
                filter: req.filter.clone(),
                as_of: req.as_of,
            };
            csv::funnel(&self.funnel_report(tenant, &ctx, &funnel).await?)
        } else {
            let q = report_query(db, &ctx, req.filter.as_ref(), None, unknown).await?;
            match report {
                Report::StageCycleTimes => {
                    csv::stage_cycle_times(&reports::stage_cycle_times(db, tenant, &q).await?)
                }
                Report::WinLoss => csv::win_loss(&reports::win_loss(db, tenant, &q).await?),
                Report::LossReasons => csv::loss_reasons(&reports::win_loss(db, tenant, &q).await?),
                Report::RepActivity => {
                    csv::rep_activity(&reports::rep_activity(db, tenant, &q).await?)
                }
                Report::SourceQuality => {
                    csv::source_quality(&reports::source_quality(db, tenant, &q).await?)
                }
                Report::Forecast => csv::forecast(
                    &reports::forecast(db, tenant, &q, self.config.thresholds()).await?,
                ),
                Report::Funnel | Report::Unspecified => Vec::new(),
            }
        };
        let stream = futures::stream::iter(chunks.into_iter().map(|data| Ok(CsvChunk { data })));
        Ok(Response::new(Box::pin(stream)))
    }
}
