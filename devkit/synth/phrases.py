"""What synthetic customers say: question phrasings per topic, follow-ups, greetings and fake personal data.

Slots in braces are filled by the generator from the knowledge base ({upgrade}, {add_on},
{not_offered}, {city}) and from the customer ({adults}, {kids}, {guests}, {miles}, {date}).
The personal data is invented (555 phone numbers, example streets) for the PII scrubber to remove.
"""

from __future__ import annotations

QUESTIONS: dict[str, list[str]] = {
    "pricing": [
        "How much is it per person?", "what are your prices?", "How much would {adults} adults cost?",
        "We're {adults} adults and {kids} kids, how much would that be?", "whats the price for kids?",
        "How much for a party of {adults} people?", "Is there a minimum order?", "what's your party minimum",
        "Is gratuity included or should we tip the chef?", "how much do you charge for {adults} guests on {date}?",
        "Do little kids eat free?", "Can you give me a quote for {adults} adults and {kids} children?",
    ],
    "proteins": [
        "What proteins can we choose from?", "what meats do you have?", "How many proteins does each guest get?",
        "Can everyone pick their own protein?", "do you have chicken and steak?", "What's on the menu?",
    ],
    "upgrades": [
        "How much is the {upgrade} upgrade?", "Can we upgrade to {upgrade}?", "what upgrades do you offer",
        "How much extra for {upgrade} for {guests} guests?", "Is {upgrade} extra?", "do you do surf and turf?",
    ],
    "included": [
        "What comes with the meal?", "What's included?", "Does it come with fried rice and salad?",
        "is the chef show included?", "do you include sauces?", "Does the price include dessert?",
    ],
    "add_ons": [
        "Can we add {add_on}?", "What add-ons do you have?", "how much is {add_on}?",
        "Can we get noodles instead of rice for {guests} people?", "Do you offer any appetizers?",
    ],
    "not_offered": [
        "Do you have {not_offered}?", "Can you do {not_offered} for the party?", "do u offer {not_offered}",
        "Could you bring {not_offered}?", "Is {not_offered} available as an upgrade?",
    ],
    "travel": [
        "Do you travel to {city}?", "We're in {city}, do you come out there?", "Is there a travel fee?",
        "We're about {miles} miles from {base_city}, what would travel cost?", "How far do you travel?",
        "what's the mileage charge", "do you serve the {city} area?",
    ],
    "booking": [
        "How far in advance do I need to book?", "Can I book for tomorrow?", "What times can the party start?",
        "Can we start at 8pm on {date}?", "Do you work weekends?", "What happens if it rains?",
        "how much notice do you need", "Can we book a lunch party on {date}?",
    ],
    "deposit": [
        "Is there a deposit?", "How much is the deposit?", "Is the deposit refundable?",
        "What if we need to cancel?", "Does the deposit go toward the bill?", "what's your cancellation policy",
    ],
    "setup": [
        "What do we need to provide?", "Can the chef cook indoors?", "Can you set up in our garage?",
        "How much space does the grill need?", "Do you bring plates and utensils?", "do we need tables?",
        "Can you cook inside if it's cold?", "Can you set up on our covered porch?",
    ],
    "dietary": [
        "Do you have vegetarian options?", "My daughter has celiac, can you do gluten-free?",
        "One guest has a shellfish allergy, is that ok?", "can you guarantee no cross contamination for allergies?",
        "Any vegan options?", "is the food gluten free?", "My husband is allergic to shrimp, can you handle that?",
    ],
}

FOLLOW_UPS: dict[str, list[str]] = {
    "pricing": ["and what about for kids?", "what about for {guests} people?", "does that include the tip?",
                "is that per person?"],
    "upgrades": ["and for {guests} guests?", "does the upgrade replace a protein?", "what about filet?"],
    "travel": ["and what if we're {miles} miles out?", "is that one way?"],
    "deposit": ["and if we cancel a week before?", "is it taken off the final bill?"],
    "booking": ["what's the latest we can start?", "and if it rains?"],
    "dietary": ["what about gluten free?", "and vegetarians?"],
    "setup": ["how big an area do you need?", "what does the chef bring?"],
    "not_offered": ["oh ok, what do you recommend instead?", "what about {not_offered}?"],
}

GREETINGS = ["Hi! ", "Hello, ", "hey there. ", "Good morning! ", "Hi there, quick question. ", ""]
CLOSINGS = ["Thanks!", "thank you so much", "Perfect, thanks!", "great, thx", "ok thanks, bye"]
OTHER_CITIES = ["Modesto", "Stockton", "Oakland", "Palo Alto", "Davis", "Visalia", "Santa Cruz", "Roseville"]
DATES = ["Saturday", "next Friday", "June 14th", "the 4th of July", "Sunday the 21st", "my son's birthday",
         "New Year's Eve", "Labor Day weekend"]

FIRST_NAMES = ["Maria", "James", "Priya", "Chen", "Olivia", "Marcus", "Sofia", "Daniel", "Aisha", "Kevin",
               "Emily", "Jorge", "Hannah", "Tuan", "Rachel", "Omar"]
LAST_NAMES = ["Garcia", "Nguyen", "Patel", "Johnson", "Kim", "Rodriguez", "Smith", "Okafor", "Lee", "Martinez",
              "Brown", "Singh", "Walker", "Tanaka"]
STREETS = ["Maple Ave", "Oak Street", "Sunset Blvd", "Elm Dr", "Riverside Way", "Cedar Ln", "Lincoln Rd",
           "Vista Ct"]
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com"]
AREA_CODES = ["916", "408", "415", "559", "209", "650", "510"]
PII_SENTENCES = [
    " I'm {name}, you can reach me at {email}.", " My number is {phone}.", " The party is at {address}.",
    " This is {name}, call me at {phone} or email {email}.", " We live at {address} if that helps.",
]
