"""Configuration, read once from the environment at cold start and validated: one model per function.

A function's model has exactly one required field per resource it `uses` (resources.Function: the
same declaration infra grants from and sets the environment from) plus the shared tunables. So the
code that runs on AWS never knows whether it talks to AWS or to the local emulator, and never reads
a resource its function was not granted. Never add a resource field by hand: declare the use.
"""
from __future__ import annotations

from functools import cache, cached_property
from typing import Annotated, Any, Callable, ClassVar, Mapping, TypeVar

from pydantic import AliasGenerator, Field, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from marketing import data, resources
from marketing.data import packaged
from marketing.domain.catalog import EventCatalog
from marketing.domain.contact_policy import ContactPolicy
from marketing.domain.models import Channel
from marketing.domain.tags import load_tag_types
from marketing.domain.tariff import PlanCatalog
from marketing.domain.touchpoints import Touchpoints

T = TypeVar("T")


class MissingSetting(RuntimeError):
    pass


def _comma_list(value: Any) -> Any:
    # DELIVERY_CHANNELS=sms,email and OPT_OUT_KEYWORDS=TD,STOP: comma-separated, blanks ignored
    if isinstance(value, str):
        return frozenset(item.strip() for item in value.split(",") if item.strip())
    return value


class Settings(BaseSettings):
    """The tunables every function shares; each variable is the field's name in capitals unless named."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=True,
                                      alias_generator=AliasGenerator(validation_alias=str.upper))

    catalog_path: str = str(packaged(data.CATALOG))               # package data unless configured
    contact_policy_path: str = str(packaged(data.CONTACT_POLICY))
    touchpoints_path: str = str(packaged(data.TOUCHPOINTS))
    plans_path: str = str(packaged(data.PLANS))
    tags_path: str = str(packaged(data.TAGS))                     # the tag dictionary (campaigns validate against it)
    opt_out_keywords: Annotated[frozenset[str], NoDecode] = frozenset({"TD", "STOP", "退订"})
    campaign_cache_seconds: float = Field(default=30.0, ge=0)
    idempotency_expiry_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    contact_history_days: int = Field(default=180, ge=1)
    channels: Annotated[frozenset[Channel], NoDecode] = Field(
        default=frozenset({Channel.SMS, Channel.EMAIL}), validation_alias="DELIVERY_CHANNELS")
    sms_sender_id: str | None = None
    sms_type: str = "Promotional"
    email_sender: str = "offers@example.com"
    # channels and delivery (README "Channels")
    policy_cache_seconds: float = Field(default=30.0, ge=0)
    sms_origination_number: str | None = None   # the long code or short code SMS go out from
    sms_sender: str = "default"                  # which send_rates entry of sms applies (e.g. long_code)
    unsubscribe_base_url: str = "https://example.com/unsubscribe"
    unsubscribe_secret: str | None = None        # signs unsubscribe tokens (customer + campaign)
    unsubscribe_secret_arn: str | None = None    # …or the Secrets Manager secret holding it (deployed stacks)
    unsubscribe_mailto: str | None = None
    delivery_retry_attempts: int = Field(default=3, ge=1)
    delivery_retry_backoff_seconds: float = Field(default=0.2, ge=0)
    pacing_horizon_seconds: float = Field(default=2.0, ge=0)
    # campaign lifecycle (Step Functions)
    approval_link_url: str | None = None          # the approval API's base URL (links in the approvers' email)
    approval_budget_threshold: float = Field(default=100_000.0, ge=0)   # over it: a second approver
    evaluation_delay_seconds: int | None = Field(default=None, ge=0)   # set: evaluate this long after activation
    estimate_max_events: int = Field(default=200_000, ge=1)
    cost_per_contact: float = Field(default=0.05, ge=0)

    _split = field_validator("opt_out_keywords", "channels", mode="before")(_comma_list)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None):
        """Validated from the process environment (pydantic-settings), or from `env` when given."""
        if env is None:
            return cls()
        names = {field.validation_alias for field in cls.model_fields.values()}
        return cls.model_validate({name: value for name, value in env.items() if name in names})

    @cached_property
    def catalog(self) -> EventCatalog:
        return EventCatalog.from_file(self.catalog_path)

    @cached_property
    def tag_types(self) -> dict[str, str]:
        return load_tag_types(self.tags_path)

    @cached_property
    def touchpoints(self) -> Touchpoints:
        return Touchpoints.from_file(self.touchpoints_path)

    @cached_property
    def plans(self) -> PlanCatalog:
        return PlanCatalog.from_file(self.plans_path)

    @cached_property
    def contact_policy(self) -> ContactPolicy:
        return ContactPolicy.from_file(self.contact_policy_path)


class FunctionSettings(Settings):
    """A function's settings: `Settings` plus one required name per resource it uses."""

    function: ClassVar[resources.Function]   # set on each model by settings_model

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None):
        try:
            return super().from_env(env)
        except ValidationError as error:
            missing = [str(e["loc"][0]) for e in error.errors() if e["type"] == "missing"]
            if missing and len(missing) == len(error.errors()):
                raise MissingSetting(
                    f"{cls.function.logical}: missing configuration: {', '.join(missing)} (the resources "
                    f"resources.py says {cls.function.logical} uses; infra sets them)") from None
            raise


def field_name(use: resources.Use) -> str:
    """The settings field of a used resource: its environment variable in lower case (campaigns_table)."""
    return use.resource.env.lower()


@cache
def settings_model(function: resources.Function) -> type[FunctionSettings]:
    """The settings class of one function, from what resources.py says it uses."""
    fields: dict[str, Any] = {field_name(use): (str, Field(validation_alias=use.resource.env))
                              for use in function.uses}
    name = "".join(part.capitalize() for part in function.logical.split("-")) + "Settings"
    model = create_model(name, __base__=FunctionSettings, __module__=__name__, **fields)
    model.function = function
    return model


def configured(function: resources.Function, build: Callable[[Any], T]) -> Callable[[Settings], T]:
    """The cold-start builder a handler hands to marketing.app.lambda_handler: that validates the shared
    tunables (`Settings.from_env()`); this adds `function`'s own model, then builds from it."""

    def start(_shared: Settings) -> T:
        return build(settings_model(function).from_env())

    start.__name__ = f"configured_{getattr(build, '__name__', 'build')}"
    return start
