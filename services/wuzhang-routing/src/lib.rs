//! Where a point is: the grid, the building and the chain of chiefs above it; areas and posts.
//!
//! Every handler authenticates first (the interceptor put a [`Principal`] on the request),
//! then admits only the roles the RPC is for; object-level scope checks come with each
//! RPC's implementation. RPCs whose issue is not done answer UNIMPLEMENTED, naming it.
//!
//! Layout: [`Routing`], the `wuzhang.v1.RoutingService` implementation.
//!
//! [`Principal`]: wuzhang_domain::access::Principal

use std::sync::Arc;
use tonic::{Request, Response, Status};
use wuzhang_auth::principal;
use wuzhang_domain::access::Role;
use wuzhang_domain::clock::Clock;
use wuzhang_proto::v1::routing_service_server::RoutingService;
use wuzhang_proto::v1::{
    Area, GetAreaRequest, ListAreasRequest, ListAreasResponse, ListPostsRequest, ListPostsResponse,
    LocateBatchRequest, LocateBatchResponse, LocateRequest, LocateResponse,
};
use wuzhang_rpc::ApiError;
use wuzhang_rpc::access::admit;
use wuzhang_store::Store;

/// The `RoutingService` over a store.
#[derive(Debug, Clone)]
pub struct Routing {
    #[expect(dead_code, reason = "read by the handlers their issues build")]
    store: Arc<dyn Store>,
    #[expect(dead_code, reason = "read by the handlers their issues build")]
    clock: Arc<dyn Clock>,
}

impl Routing {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}

#[tonic::async_trait]
impl RoutingService for Routing {
    async fn locate(
        &self,
        request: Request<LocateRequest>,
    ) -> Result<Response<LocateResponse>, Status> {
        admit(
            principal(&request)?,
            &[
                Role::Resident,
                Role::Chief,
                Role::CommandCenter,
                Role::Admin,
            ],
            "Locate",
        )?;
        Err(ApiError::unimplemented("Locate", "issue #3").into())
    }

    async fn locate_batch(
        &self,
        request: Request<LocateBatchRequest>,
    ) -> Result<Response<LocateBatchResponse>, Status> {
        admit(
            principal(&request)?,
            &[
                Role::Resident,
                Role::Chief,
                Role::CommandCenter,
                Role::Admin,
            ],
            "LocateBatch",
        )?;
        Err(ApiError::unimplemented("LocateBatch", "issue #3").into())
    }

    async fn get_area(&self, request: Request<GetAreaRequest>) -> Result<Response<Area>, Status> {
        admit(
            principal(&request)?,
            &[
                Role::Resident,
                Role::Chief,
                Role::CommandCenter,
                Role::Admin,
            ],
            "GetArea",
        )?;
        Err(ApiError::unimplemented("GetArea", "issue #3").into())
    }

    async fn list_areas(
        &self,
        request: Request<ListAreasRequest>,
    ) -> Result<Response<ListAreasResponse>, Status> {
        admit(
            principal(&request)?,
            &[
                Role::Resident,
                Role::Chief,
                Role::CommandCenter,
                Role::Admin,
            ],
            "ListAreas",
        )?;
        Err(ApiError::unimplemented("ListAreas", "issue #3").into())
    }

    async fn list_posts(
        &self,
        request: Request<ListPostsRequest>,
    ) -> Result<Response<ListPostsResponse>, Status> {
        admit(
            principal(&request)?,
            &[Role::Chief, Role::CommandCenter, Role::Admin],
            "ListPosts",
        )?;
        Err(ApiError::unimplemented("ListPosts", "issue #3").into())
    }
}
