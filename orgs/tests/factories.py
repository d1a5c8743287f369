import factory
from django.contrib.auth import get_user_model

from billing.plans import PlanCode
from orgs.models import Organization
from orgs.roles import Role
from orgs.services import membership_set_role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"teammate{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def saved(user, create, extracted, **kwargs):
        if create:
            user.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")
    plan = PlanCode.PRO


def member(organization: Organization, role: Role = Role.AGENT, **user_fields):
    """A user with a role in the org, permissions and all, through the real service."""
    user = UserFactory(**user_fields)
    membership_set_role(organization=organization, user=user, role=role)
    return user


def org_admin(organization: Organization, role: Role = Role.ADMIN, **user_fields):
    """An admin (or owner) of the org: staff, through `membership_set_role`, as in production."""
    user = member(organization, role, **user_fields)
    assert user.is_staff
    return user


def operator(**user_fields):
    """The installation's superuser: sees every org in Django admin, is a member of none."""
    return UserFactory(is_staff=True, is_superuser=True, **user_fields)
