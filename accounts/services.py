from accounts.models import User


def update_profile(*, user: User, full_name: str, company: str, phone: str) -> User:
    """Save the contact details used on the user's quotes."""
    user.full_name = full_name
    user.company = company
    user.phone = phone
    user.save(update_fields=["full_name", "company", "phone"])
    return user
