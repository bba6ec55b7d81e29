//! `wuzhang.v1.RoutingService`.

use std::sync::Arc;
use tonic::{Request, Response, Status};
use wuzhang_app::ApiError;
use wuzhang_app::access::admit;
use wuzhang_app::request::page_size;
use wuzhang_domain::FieldError;
use wuzhang_domain::access::Role;
use wuzhang_domain::area::{AreaCode, BBox};
use wuzhang_domain::point::GeoPoint;
use wuzhang_proto::convert;
use wuzhang_proto::v1::routing_service_server::RoutingService;
use wuzhang_proto::v1::{
    self, Area, GetAreaRequest, ListAreasRequest, ListAreasResponse, ListPostsRequest,
    ListPostsResponse, LocateBatchRequest, LocateBatchResponse, LocateBatchResult, LocateError,
    LocateRequest, LocateResponse, list_areas_request, locate_batch_result,
};
use wuzhang_rpc::{caller, grpc};
use wuzhang_store::{AreaQuery, PageRequest, Store, TOTAL_SIZE_CAP};

use crate::locate::{LocateQuery, Location, Locator};

/// Most points one `LocateBatch` may carry.
pub const MAX_BATCH: usize = 1000;
/// Most areas per page when geometry is included (each carries its polygon).
pub const MAX_PAGE_WITH_GEOMETRY: u32 = 100;

const EVERYONE: &[Role] = &[
    Role::Resident,
    Role::Chief,
    Role::CommandCenter,
    Role::Admin,
];

/// The `RoutingService` over a store and the live area index.
#[derive(Debug, Clone)]
pub struct Routing {
    store: Arc<dyn Store>,
    locator: Locator,
}

impl Routing {
    pub fn new(store: Arc<dyn Store>, locator: Locator) -> Self {
        Self { store, locator }
    }

    pub fn locator(&self) -> &Locator {
        &self.locator
    }
}

fn optional_code(field: &str, s: &str) -> Result<Option<AreaCode>, FieldError> {
    if s.is_empty() {
        return Ok(None);
    }
    AreaCode::new(s)
        .map(Some)
        .map_err(|e| FieldError::new(field, e.reason))
}

fn point(field: &str, p: Option<&v1::GeoPoint>) -> Result<GeoPoint, FieldError> {
    let p = p.ok_or_else(|| FieldError::new(field, "is required"))?;
    GeoPoint::try_from(p).map_err(|e| e.within(field))
}

fn response(loc: Location) -> LocateResponse {
    LocateResponse {
        grid: Some(Area::from(&loc.grid)),
        building: loc.building.as_ref().map(Area::from),
        chain: loc
            .chain
            .iter()
            .map(|l| v1::ChainLink {
                level: convert::chief_level(l.level) as i32,
                area_code: l.area.code.to_string(),
                area_name: l.area.name.clone(),
                person_id: l
                    .person
                    .as_ref()
                    .map(|p| p.id.to_string())
                    .unwrap_or_default(),
                person_name: l
                    .person
                    .as_ref()
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                vacant: l.vacant,
                deputy: l.deputy,
            })
            .collect(),
        fallback: loc.fallback_distance_m.is_some(),
        distance_m: loc.fallback_distance_m.unwrap_or(0.0),
        wgs84: Some(loc.wgs84.into()),
        unit: loc.unit.as_ref().map(Area::from),
    }
}

impl Routing {
    async fn area_message(
        &self,
        code: &AreaCode,
        include_geometry: bool,
    ) -> Result<Area, ApiError> {
        if !include_geometry {
            return Ok(Area::from(&self.store.get_area(code).await?));
        }
        let record = self.store.get_area_record(code).await?;
        let mut area = Area::from(&record.area);
        if let Some(wkb) = &record.geometry_wkb {
            let mp =
                wuzhang_spatial::wkb_io::multipolygon_from_wkb(wkb).map_err(ApiError::internal)?;
            area.geojson = crate::geojson::multipolygon(&mp);
        }
        Ok(area)
    }
}

#[tonic::async_trait]
impl RoutingService for Routing {
    async fn locate(
        &self,
        request: Request<LocateRequest>,
    ) -> Result<Response<LocateResponse>, Status> {
        grpc(async move {
            admit(caller(&request)?, EVERYONE, "Locate")?;
            let r = request.get_ref();
            let query = LocateQuery {
                point: point("point", r.point.as_ref()).map_err(ApiError::from)?,
                building_code: optional_code("building_code", &r.building_code)
                    .map_err(ApiError::from)?,
                unit_code: optional_code("unit_code", &r.unit_code).map_err(ApiError::from)?,
            };
            let loc = self.locator.locate(&query).await?;
            Ok(Response::new(response(loc)))
        })
        .await
    }

    async fn locate_batch(
        &self,
        request: Request<LocateBatchRequest>,
    ) -> Result<Response<LocateBatchResponse>, Status> {
        grpc(async move {
            admit(caller(&request)?, EVERYONE, "LocateBatch")?;
            let points = &request.get_ref().points;
            if points.is_empty() {
                return Err(ApiError::invalid("points", "must not be empty").into());
            }
            if points.len() > MAX_BATCH {
                return Err(ApiError::invalid(
                    "points",
                    format!("at most {MAX_BATCH} points per batch"),
                )
                .into());
            }
            let mut results = Vec::with_capacity(points.len());
            for (i, p) in points.iter().enumerate() {
                let field = format!("points[{i}]");
                let outcome = match point(&field, Some(p)) {
                    Err(e) => locate_batch_result::Outcome::Error(LocateError {
                        code: tonic::Code::InvalidArgument as i32,
                        message: e.reason.clone(),
                        field: e.field,
                    }),
                    Ok(point) => {
                        let q = LocateQuery {
                            point,
                            building_code: None,
                            unit_code: None,
                        };
                        match self.locator.locate(&q).await {
                            Ok(loc) => locate_batch_result::Outcome::Location(response(loc)),
                            // One bad point does not sink the batch; an outage does.
                            Err(e @ (ApiError::Unavailable(_) | ApiError::Internal(_))) => {
                                return Err(e.into());
                            }
                            Err(e) => locate_batch_result::Outcome::Error(LocateError {
                                code: wuzhang_rpc::code(&e) as i32,
                                message: e.to_string(),
                                field: String::new(),
                            }),
                        }
                    }
                };
                results.push(LocateBatchResult {
                    index: i as i32,
                    outcome: Some(outcome),
                });
            }
            Ok(Response::new(LocateBatchResponse { results }))
        })
        .await
    }

    async fn get_area(&self, request: Request<GetAreaRequest>) -> Result<Response<Area>, Status> {
        grpc(async move {
            admit(caller(&request)?, EVERYONE, "GetArea")?;
            let r = request.get_ref();
            let code =
                AreaCode::new(r.code.as_str()).map_err(|e| ApiError::invalid("code", e.reason))?;
            Ok(Response::new(
                self.area_message(&code, r.include_geometry).await?,
            ))
        })
        .await
    }

    async fn list_areas(
        &self,
        request: Request<ListAreasRequest>,
    ) -> Result<Response<ListAreasResponse>, Status> {
        grpc(async move {
            admit(caller(&request)?, EVERYONE, "ListAreas")?;
            let r = request.get_ref();
            let mut query = AreaQuery {
                level: convert::area_level_from_wire("level", r.level).map_err(ApiError::from)?,
                ..AreaQuery::default()
            };
            match &r.filter {
                Some(list_areas_request::Filter::ParentCode(p)) => {
                    query.parent_code = Some(
                        AreaCode::new(p.as_str())
                            .map_err(|e| ApiError::invalid("parent_code", e.reason))?,
                    );
                }
                Some(list_areas_request::Filter::Bbox(b)) => {
                    query.bbox = Some(BBox::try_from(b).map_err(ApiError::from)?);
                }
                None => {}
            }
            let mut size = page_size(r.page_size)?;
            if r.include_geometry {
                size = if size == 0 {
                    MAX_PAGE_WITH_GEOMETRY
                } else {
                    size.min(MAX_PAGE_WITH_GEOMETRY)
                };
            }
            let page_token = (!r.page_token.is_empty()).then(|| r.page_token.clone());
            let page = self
                .store
                .list_areas(
                    &query,
                    &PageRequest {
                        size,
                        token: page_token,
                    },
                )
                .await
                .map_err(ApiError::from)?;
            let total = self
                .store
                .count_areas_capped(&query, TOTAL_SIZE_CAP)
                .await
                .map_err(ApiError::from)?;
            let mut areas = Vec::with_capacity(page.items.len());
            for a in &page.items {
                areas.push(if r.include_geometry {
                    self.area_message(&a.code, true).await?
                } else {
                    Area::from(a)
                });
            }
            Ok(Response::new(ListAreasResponse {
                areas,
                next_page_token: page.next_token.unwrap_or_default(),
                total_size: i32::try_from(total.min(TOTAL_SIZE_CAP + 1)).unwrap_or(i32::MAX),
                total_size_is_estimate: total > TOTAL_SIZE_CAP,
            }))
        })
        .await
    }

    async fn list_posts(
        &self,
        request: Request<ListPostsRequest>,
    ) -> Result<Response<ListPostsResponse>, Status> {
        grpc(async move {
            let who = admit(
                caller(&request)?,
                &[Role::Chief, Role::CommandCenter, Role::Admin],
                "ListPosts",
            )?;
            let snapshot = self.locator.index().snapshot();
            let now = self.locator.clock().now();
            let answer = crate::posts::list_posts(
                self.store.as_ref(),
                &snapshot,
                who,
                request.get_ref(),
                now,
            )
            .await?;
            Ok(Response::new(answer))
        })
        .await
    }
}
