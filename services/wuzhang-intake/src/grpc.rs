//! `wuzhang.v1.IntakeService` over [`IntakeCore`]: decode, admit, call, encode. Every
//! handler authenticates first (the interceptor put a [`Principal`] on the request) and
//! admits only the roles the RPC is for; object scope is the core's business.
//!
//! [`Principal`]: wuzhang_domain::access::Principal

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use tonic::{Request, Response, Status, Streaming};
use wuzhang_app::ApiError;
use wuzhang_app::access::admit;
use wuzhang_app::idempotency::{self, Key, Recording};
use wuzhang_app::request::{page, request_id};
use wuzhang_domain::access::Role;
use wuzhang_domain::category::CategoryCode;
use wuzhang_domain::point::GeoPoint;
use wuzhang_domain::ticket::{Rating, TicketId};
use wuzhang_media::{MediaError, MediaLimits, MediaStore, Upload};
use wuzhang_proto::convert;
use wuzhang_proto::v1::intake_service_server::IntakeService;
use wuzhang_proto::v1::{
    CancelIncidentRequest, GetIncidentRequest, ListIncidentCategoriesRequest,
    ListIncidentCategoriesResponse, ListMyIncidentsRequest, ListMyIncidentsResponse, Media,
    RateIncidentRequest, SubmitIncidentRequest, Ticket, TicketEvent, UploadMediaRequest,
    WatchIncidentRequest, upload_media_request,
};
use wuzhang_rpc::{caller, grpc, status};

use crate::core::{IntakeCore, RawSubmission, Submission, Visibility, to_wire};

/// Largest page of ListMyIncidents.
const MAX_MY_PAGE: u32 = 100;
const DEFAULT_MY_PAGE: u32 = 20;
/// Largest page of ListIncidentCategories.
const MAX_CATEGORY_PAGE: u32 = 500;
const DEFAULT_CATEGORY_PAGE: u32 = 100;

/// The `IntakeService`.
#[derive(Debug, Clone)]
pub struct Intake {
    core: IntakeCore,
    media: Arc<dyn MediaStore>,
    /// Where media is served from, e.g. `http://127.0.0.1:8080`: URLs given out are this
    /// plus `/media/<key>`.
    media_base_url: String,
}

impl Intake {
    pub fn new(core: IntakeCore, media: Arc<dyn MediaStore>, media_base_url: String) -> Self {
        Self {
            core,
            media,
            media_base_url: media_base_url.trim_end_matches('/').to_owned(),
        }
    }
}

fn ticket_id(s: &str) -> Result<TicketId, ApiError> {
    s.parse::<TicketId>().map_err(ApiError::from)
}

const RESIDENT: &[Role] = &[Role::Resident, Role::Admin];

#[tonic::async_trait]
impl IntakeService for Intake {
    type WatchIncidentStream = BoxStream<'static, Result<TicketEvent, Status>>;

    async fn submit_incident(
        &self,
        request: Request<SubmitIncidentRequest>,
    ) -> Result<Response<Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, RESIDENT, "SubmitIncident")?.clone();
            let req = request.into_inner();
            let id = request_id(&req.request_id)?;
            let submission = Submission::check(RawSubmission {
                category_code: &req.category_code,
                description: &req.description,
                location: req.location.as_ref().map(GeoPoint::try_from),
                address: &req.address,
                building_code: &req.building_code,
                unit_code: &req.unit_code,
                media_urls: &req.media_urls,
                contact_phone: &req.contact_phone,
            })?;
            let key = Key::new(&caller, "SubmitIncident", id, &req);
            // Optimistic: the ticket, a merge into an original and the key are written in
            // one transaction (a taken key writes nothing), and nothing before that write is
            // visible, so a retry costs a read only when it comes back refused.
            let answer = idempotency::once(
                self.core.store().as_ref(),
                &key,
                Recording::WithTheEffectOptimistic,
                || async {
                    let t = self
                        .core
                        .submit(&caller, submission, Some(key.clone()))
                        .await?;
                    Ok(to_wire(&t, Visibility::Reporter, self.core.clock().now()))
                },
            )
            .await?;
            Ok(Response::new(answer))
        })
        .await
    }

    async fn get_incident(
        &self,
        request: Request<GetIncidentRequest>,
    ) -> Result<Response<Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, RESIDENT, "GetIncident")?.clone();
            let id = ticket_id(&request.get_ref().ticket_id)?;
            let (ticket, visibility, events) = self.core.get(&caller, &id).await?;
            let mut wire = to_wire(&ticket, visibility, self.core.clock().now());
            wire.events = events.iter().map(Into::into).collect();
            Ok(Response::new(wire))
        })
        .await
    }

    async fn list_my_incidents(
        &self,
        request: Request<ListMyIncidentsRequest>,
    ) -> Result<Response<ListMyIncidentsResponse>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, RESIDENT, "ListMyIncidents")?.clone();
            let req = request.into_inner();
            let states = convert::all_set("states", &req.states, convert::ticket_state_from_wire)
                .map_err(ApiError::from)?;
            let page = page(req.page_size, &req.page_token, DEFAULT_MY_PAGE, MAX_MY_PAGE)?;
            let (tickets, total) = self.core.list_mine(&caller, states, &page).await?;
            let now = self.core.clock().now();
            Ok(Response::new(ListMyIncidentsResponse {
                tickets: tickets
                    .items
                    .iter()
                    .map(|t| to_wire(t, Visibility::Reporter, now))
                    .collect(),
                next_page_token: tickets.next_token.unwrap_or_default(),
                total_size: i32::try_from(total).unwrap_or(i32::MAX),
            }))
        })
        .await
    }

    async fn watch_incident(
        &self,
        request: Request<WatchIncidentRequest>,
    ) -> Result<Response<Self::WatchIncidentStream>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, RESIDENT, "WatchIncident")?.clone();
            let req = request.into_inner();
            let id = ticket_id(&req.ticket_id)?;
            if req.after_seq < 0 {
                return Err(ApiError::invalid("after_seq", "must not be negative").into());
            }
            // Scope first: a ticket the caller may not see does not exist for them.
            self.core.visible_ticket(&caller, &id).await?;
            let stream = self
                .core
                .hub()
                .watch(Arc::clone(self.core.store()), id, req.after_seq)
                .map(|r| r.map(|e| (&e).into()).map_err(status));
            Ok(Response::new(stream.boxed()))
        })
        .await
    }

    async fn cancel_incident(
        &self,
        request: Request<CancelIncidentRequest>,
    ) -> Result<Response<Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, RESIDENT, "CancelIncident")?.clone();
            let req = request.into_inner();
            let rid = request_id(&req.request_id)?;
            let id = ticket_id(&req.ticket_id)?;
            let key = Key::new(&caller, "CancelIncident", rid, &req);
            let answer = idempotency::once(
                self.core.store().as_ref(),
                &key,
                Recording::WithTheEffect,
                || async {
                    let t = self
                        .core
                        .cancel(&caller, &id, &req.reason, Some(key.clone()))
                        .await?;
                    Ok(to_wire(&t, Visibility::Reporter, self.core.clock().now()))
                },
            )
            .await?;
            Ok(Response::new(answer))
        })
        .await
    }

    async fn rate_incident(
        &self,
        request: Request<RateIncidentRequest>,
    ) -> Result<Response<Ticket>, Status> {
        grpc(async move {
            let caller = admit(caller(&request)?, RESIDENT, "RateIncident")?.clone();
            let req = request.into_inner();
            let rid = request_id(&req.request_id)?;
            let id = ticket_id(&req.ticket_id)?;
            let stars = u8::try_from(req.stars)
                .map_err(|_| ApiError::invalid("stars", "must be 1 to 5"))?;
            let rating =
                Rating::new(stars, req.not_solved, req.comment.clone()).map_err(ApiError::from)?;
            let key = Key::new(&caller, "RateIncident", rid, &req);
            let answer = idempotency::once(
                self.core.store().as_ref(),
                &key,
                Recording::WithTheEffect,
                || async {
                    let t = self
                        .core
                        .rate(&caller, &id, rating, Some(key.clone()))
                        .await?;
                    Ok(to_wire(&t, Visibility::Reporter, self.core.clock().now()))
                },
            )
            .await?;
            Ok(Response::new(answer))
        })
        .await
    }

    async fn upload_media(
        &self,
        request: Request<Streaming<UploadMediaRequest>>,
    ) -> Result<Response<Media>, Status> {
        grpc(async move {
            let caller = admit(
                caller(&request)?,
                &[
                    Role::Resident,
                    Role::Chief,
                    Role::CommandCenter,
                    Role::Admin,
                ],
                "UploadMedia",
            )?
            .clone();
            let mut stream = request.into_inner();
            let first = stream
                .message()
                .await?
                .ok_or_else(|| ApiError::invalid("metadata", "the first message must carry it"))?;
            let Some(upload_media_request::Payload::Metadata(meta)) = first.payload else {
                return Err(
                    ApiError::invalid("metadata", "the first message must carry it").into(),
                );
            };
            let rid = request_id(&meta.request_id)
                .map_err(|_| {
                    ApiError::invalid(
                        "metadata.request_id",
                        "must be 1–64 printable ASCII characters without spaces",
                    )
                })?
                .to_owned();
            if meta.filename.chars().count() > 255 {
                return Err(ApiError::invalid(
                    "metadata.filename",
                    "must be at most 255 characters",
                )
                .into());
            }
            let mut upload =
                Upload::new(&meta.content_type, MediaLimits::default()).map_err(media_error)?;
            while let Some(msg) = stream.message().await? {
                match msg.payload {
                    Some(upload_media_request::Payload::Chunk(bytes)) => {
                        upload.push(&bytes).map_err(media_error)?;
                    }
                    Some(upload_media_request::Payload::Metadata(_)) => {
                        return Err(ApiError::invalid(
                            "metadata",
                            "only the first message may carry it",
                        )
                        .into());
                    }
                    None => return Err(ApiError::invalid("payload", "is required").into()),
                }
            }
            let content_type = upload.content_type();
            let bytes = upload.finish().map_err(media_error)?;
            let stored = self
                .media
                .put(content_type, bytes)
                .await
                .map_err(media_error)?;
            let media = Media {
                url: format!("{}{}", self.media_base_url, stored.path()),
                content_type: stored.content_type,
                size_bytes: i64::try_from(stored.size_bytes).unwrap_or(i64::MAX),
                sha256: stored.sha256,
            };
            // The same id with other bytes is another request; the same bytes are the same media.
            let answer = idempotency::once(
                self.core.store().as_ref(),
                &Key::new(&caller, "UploadMedia", &rid, &media),
                Recording::AfterTheEffect(self.core.clock().as_ref()),
                || async { Ok(media.clone()) },
            )
            .await?;
            Ok(Response::new(answer))
        })
        .await
    }

    async fn list_incident_categories(
        &self,
        request: Request<ListIncidentCategoriesRequest>,
    ) -> Result<Response<ListIncidentCategoriesResponse>, Status> {
        grpc(async move {
            admit(
                caller(&request)?,
                &[
                    Role::Resident,
                    Role::Chief,
                    Role::CommandCenter,
                    Role::Admin,
                ],
                "ListIncidentCategories",
            )?;
            let req = request.into_inner();
            let parent = if req.parent_code.is_empty() {
                None
            } else {
                Some(
                    CategoryCode::new(&req.parent_code)
                        .map_err(|e| ApiError::invalid("parent_code", e.reason))?,
                )
            };
            let page = page(
                req.page_size,
                &req.page_token,
                DEFAULT_CATEGORY_PAGE,
                MAX_CATEGORY_PAGE,
            )?;
            let (categories, next, total) = wuzhang_app::categories::list(
                self.core.store().as_ref(),
                false,
                parent.as_ref(),
                &page,
            )
            .await?;
            Ok(Response::new(ListIncidentCategoriesResponse {
                categories: categories.iter().map(Into::into).collect(),
                next_page_token: next.unwrap_or_default(),
                total_size: i32::try_from(total).unwrap_or(i32::MAX),
            }))
        })
        .await
    }
}

fn media_error(e: MediaError) -> ApiError {
    match e {
        MediaError::Invalid { field, reason } => ApiError::invalid(field, reason),
        MediaError::NotFound => ApiError::not_found("media"),
        MediaError::Unavailable(m) => ApiError::Unavailable(m),
        MediaError::Internal(m) => ApiError::internal(m),
    }
}
