"""Domain vocabulary per industry: what a trade-desk person knows before seeing a single labeled RFQ.

The labeled set is small (about 1,200 rows, most of one marketplace), so the local classifier gets these counts as
extra features next to the embedding and character n-grams. The lists follow the label guide (TAXONOMY.md): what
each industry covers, including its hard negatives (food-grade essential oils, ingestible supplements, packaging
not made for cosmetics). Terms match as whole words, case-insensitively, in English and the other languages our
buyers write in (Arabic, Russian, Spanish, French, Portuguese, Turkish, Korean, Japanese, Chinese).
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np

LEXICON: dict[str, tuple[str, ...]] = {
    "beauty_personal_care": (
        "cosmetic", "cosmetics", "makeup", "make-up", "make up", "lipstick", "lip gloss", "lipgloss", "lip balm",
        "lip liner", "lip tint", "mascara", "eyeliner", "eye liner", "eyeshadow", "eye shadow", "eyebrow", "brow",
        "foundation", "concealer", "primer", "blush", "bronzer", "highlighter", "contour", "face powder",
        "setting spray", "bb cream", "cc cream", "skin care", "skincare", "serum", "face cream", "moisturizer",
        "moisturiser", "moisturizing", "lotion", "body lotion", "toner", "cleanser", "face wash", "facial",
        "face mask", "sheet mask", "peel", "exfoliat", "scrub", "sunscreen", "sunblock", "spf", "anti-aging",
        "anti aging", "antiaging", "wrinkle", "whitening", "brightening", "acne", "retinol", "niacinamide",
        "hyaluronic", "collagen", "vitamin c serum", "snail", "aloe vera gel", "shea butter", "cocoa butter",
        "argan oil", "rosehip", "jojoba", "hair care", "haircare", "shampoo", "conditioner", "hair oil", "hair mask",
        "hair serum", "hair spray", "hairspray", "hair gel", "hair wax", "pomade", "hair dye", "hair color",
        "hair colour", "henna", "keratin", "hair growth", "hair loss", "hair removal", "wig", "wigs", "lace front",
        "hair extension", "hair extensions", "human hair", "toupee", "hair bundle", "bundles", "hair piece",
        "ponytail", "hair clipper", "hair trimmer", "hair dryer", "hair straightener", "curling iron", "flat iron",
        "hair brush", "hairbrush", "comb", "scalp", "nail", "nails", "nail polish", "gel polish", "press on",
        "press-on", "manicure", "pedicure", "cuticle", "nail art", "nail lamp", "acrylic powder", "eyelash",
        "eyelashes", "lashes", "lash", "false lashes", "mink lashes", "perfume", "perfumes", "fragrance",
        "fragrances", "parfum", "eau de", "cologne", "attar", "oud", "bakhoor", "bukhoor", "body mist",
        "body spray", "deodorant", "antiperspirant", "roll on", "roll-on", "toothpaste", "toothbrush",
        "mouthwash", "teeth whitening", "dental floss", "oral care", "soap", "body wash", "shower gel",
        "bath bomb", "bath salt", "bubble bath", "shower cap", "loofah", "shaving", "shave", "razor", "aftershave",
        "beard oil", "beard", "wet wipes", "makeup remover", "cotton pads", "beauty", "salon", "spa", "barber",
        "esthetic", "aesthetic", "ipl", "microneedling", "derma roller", "derma pen", "face roller", "gua sha",
        "jade roller", "epilator", "waxing", "wax strips", "depilatory", "tattoo", "massage oil", "essential oil",
        "essential oils", "cosmetic jar", "cosmetic bottle", "cosmetic packaging", "lipstick tube", "mascara tube",
        "pump bottle", "dropper bottle", "perfume bottle", "airless bottle", "compact powder", "makeup brush",
        "makeup brushes", "beauty blender", "sponge puff", "powder puff", "vanity", "baby oil", "baby lotion",
        "talc", "feminine wash", "intimate wash", "glycerin", "petroleum jelly", "vaseline", "body butter",
        "cosmético", "cosméticos", "maquillaje", "perfume", "parfum", "crème", "rouge à lèvres", "shampooing",
        "косметика", "косметики", "шампунь", "крем", "духи", "парфюм", "помада", "ресницы", "волос",
        "مستحضرات", "تجميل", "عطر", "عطور", "عطرية", "بخور", "شامبو", "كريم", "مكياج", "رموش", "شعر",
        "kozmetik", "parfüm", "şampuan",
        "화장품", "크림", "세럼", "에센스", "토너", "로션", "샴푸", "립스틱", "마스크팩", "선크림", "향수",
        "네일", "속눈썹",
        "化粧品", "化粧水", "美容液", "乳液", "クリーム", "シャンプー", "口紅", "香水", "日焼け止め", "まつげ",
        "ネイル",
        "化妆品", "护肤", "面霜", "精华", "洗发水", "口红", "爽肤水", "面膜", "防晒", "睫毛", "美甲",
        # Cosmetic raw materials and actives (sold for cosmetic use).
        "dimethicone", "cyclopentasiloxane", "silicone elastomer", "carbomer", "panthenol", "squalane", "ceramide",
        "ceramides", "peptide", "peptides", "allantoin", "lanolin", "kojic", "arbutin", "tranexamic",
        "salicylic acid", "glycolic acid", "cosmetic grade", "emulsifying wax", "mica powder",
        # Brands a buyer names instead of the product (mass-market, prestige and Gulf fragrance houses).
        "l'oreal", "loreal", "maybelline", "revlon", "nivea", "dove", "aveeno", "neutrogena", "cerave", "cetaphil",
        "garnier", "olay", "pantene", "head & shoulders", "sunsilk", "tresemme", "schwarzkopf", "wella",
        "vaseline", "johnson's baby", "clinique", "estee lauder", "lancome", "mac cosmetics", "nyx", "sephora",
        "the ordinary", "la roche-posay", "vichy", "bioderma", "eucerin", "himalaya", "lakme", "huda beauty",
        "fenty", "chanel", "dior", "gucci bloom", "versace eros", "armani code", "calvin klein", "hugo boss",
        "lattafa", "ajmal", "rasasi", "swiss arabian", "arabian oud", "al haramain", "armaf", "afnan",
        "ard al zaafaran",
        "gillette", "colgate", "sensodyne", "oral-b", "listerine", "rexona", "axe", "old spice", "palmolive",
        "lux soap", "dettol soap", "k-beauty", "korean skincare", "cosrx", "innisfree", "laneige", "missha",
    ),
    "food_beverage": (
        "food", "foods", "beverage", "beverages", "drink", "drinks", "juice", "juices", "water bottle water",
        "mineral water", "coffee", "tea", "cocoa", "chocolate", "candy", "confectionery", "biscuit", "biscuits",
        "cookies", "snack", "snacks", "chips", "sugar", "icumsa", "rice", "basmati", "wheat flour", "flour",
        "pasta", "noodles", "oil cooking", "cooking oil", "sunflower oil", "palm oil", "olive oil", "soybean oil",
        "corn oil", "vegetable oil", "canola", "milk", "milk powder", "dairy", "cheese", "butter", "ghee",
        "yogurt", "cream cheese", "honey", "jam", "sauce", "ketchup", "mayonnaise", "vinegar", "spice", "spices",
        "pepper", "black pepper", "chili", "cumin", "turmeric", "cardamom", "cinnamon", "saffron", "clove",
        "ginger", "garlic", "onion", "onions", "potato", "potatoes", "tomato", "fruit", "fruits", "fresh fruit",
        "vegetable", "vegetables", "frozen", "meat", "beef", "chicken", "poultry", "mutton", "lamb", "pork",
        "halal meat", "seafood", "fish", "shrimp", "prawn", "tuna", "sardine", "salmon", "egg", "eggs", "nuts",
        "cashew", "almond", "almonds", "pistachio", "walnut", "peanut", "peanuts", "dates", "raisins",
        "dried fruit", "coconut milk", "coconut water", "desiccated coconut", "beans", "lentils", "chickpeas",
        "soybean", "soybeans", "corn", "maize", "barley", "oats", "wheat", "grain", "grains", "flavor",
        "flavour", "flavors", "flavours", "food additive", "food grade", "sweetener", "stevia", "baby food",
        "infant formula", "canned", "beer", "wine", "whisky", "vodka", "liquor", "energy drink", "soft drink",
        "soda", "ice cream", "bakery", "bread", "gelatin", "starch", "yeast", "salt", "table salt", "seasoning",
        "edible", "organic food", "halal food", "продукты", "сахар", "мука", "масло подсолнечное", "rice",
        "أرز", "سكر", "زيت", "عسل", "تمر", "azúcar", "arroz", "café",
    ),
    "agriculture_raw": (
        "charcoal", "hardwood charcoal", "bbq charcoal", "wood pellets", "pellets", "firewood", "timber", "logs",
        "lumber", "sawn wood", "teak", "cotton bales", "raw cotton", "cotton lint", "jute", "sisal", "animal feed",
        "cattle feed", "poultry feed", "fish feed", "feed", "fodder", "hay", "alfalfa", "straw", "silage",
        "fertilizer", "fertiliser", "urea", "dap", "npk", "potash", "compost", "manure", "seeds", "seed",
        "seedlings", "saplings", "livestock", "cattle", "cows", "goats", "sheep", "horses", "camels", "tobacco",
        "raw tobacco", "hides", "wet blue", "wool", "raw silk", "rubber latex", "natural rubber", "coir",
        "coco peat", "cocopeat", "peat moss", "sawdust", "bamboo poles", "فحم", "أعلاف", "удобрения", "уголь",
    ),
    "chemicals_materials": (
        "chemical", "chemicals", "resin", "pvc resin", "hdpe", "ldpe", "lldpe", "polypropylene", "polyethylene",
        "pet resin", "pet flakes", "granules", "masterbatch", "polymer", "plastic raw", "plastic scrap", "scrap",
        "metal scrap", "copper scrap", "aluminium scrap", "aluminum scrap", "steel scrap", "hms", "iron ore",
        "ore", "copper cathode", "copper wire", "aluminium ingot", "aluminum ingot", "ingot", "ingots", "zinc",
        "lead", "nickel", "tin", "steel coil", "steel sheet", "steel plate", "steel pipe", "steel bar", "rebar",
        "billet", "billets", "hot rolled", "cold rolled", "galvanized", "stainless steel sheet", "metal", "metals",
        "mineral", "minerals", "coal", "petcoke", "bitumen", "diesel", "fuel", "en590", "jet fuel", "jp54",
        "crude oil", "lpg", "lng", "base oil", "lubricant", "lubricants", "paraffin", "wax paraffin", "sulfur",
        "sulphur", "caustic soda", "soda ash", "acid", "sulfuric acid", "hydrochloric", "solvent", "solvents",
        "pigment", "pigments", "titanium dioxide", "dye", "dyes", "paint", "paints", "coating", "adhesive", "glue",
        "epoxy", "silicone", "rubber", "synthetic rubber", "cement", "clinker", "gypsum", "silica", "quartz",
        "kaolin", "bentonite", "graphite", "carbon black", "activated carbon", "waste paper", "occ", "paper",
        "kraft paper", "pulp", "glass", "fiberglass", "reagent", "catalyst", "химия", "металлолом",
    ),
    "electronics": (
        "electronic", "electronics", "iphone", "samsung galaxy", "smartphone", "smartphones", "mobile phone",
        "mobile phones", "cell phone", "phone", "phones", "tablet", "ipad", "laptop", "laptops", "notebook computer",
        "computer", "computers", "pc", "desktop", "monitor", "monitors", "keyboard", "mouse", "printer toner",
        "server", "router", "modem", "wifi", "switch network", "network switch", "cctv", "camera", "cameras",
        "dash cam", "drone", "drones", "television", "tv", "smart tv", "led tv", "projector", "speaker", "speakers",
        "headphones", "headphone", "earphones", "earbuds", "airpods", "headset", "bluetooth", "smart watch",
        "smartwatch", "charger", "chargers", "power bank", "powerbank", "usb", "cable", "cables", "hdmi",
        "adapter", "battery", "batteries", "lithium battery", "phone case", "phone cases", "mobile phone cases",
        "screen protector", "lcd", "lcd screen", "oled", "display", "touch screen", "pcb", "pcba",
        "semiconductor", "chip", "chips ic", "ic", "integrated circuit", "transistor", "capacitor", "resistor",
        "sensor", "module", "led", "led light", "led strip", "led bulb", "bulb", "bulbs", "lighting",
        "playstation", "ps5", "xbox", "nintendo", "gaming", "console", "gpu", "graphics card", "cpu", "ssd",
        "hard drive", "memory card", "ram", "macbook", "apple watch", "gps", "walkie talkie", "radio",
        "electronic components", "телефон", "ноутбук", "هاتف", "جوال", "ايفون",
    ),
    "apparel_textiles": (
        "apparel", "garment", "garments", "clothing", "clothes", "cloth", "dress", "dresses", "shirt", "shirts",
        "t-shirt", "t shirt", "tshirt", "t-shirts", "polo", "hoodie", "hoodies", "sweatshirt", "jacket", "jackets",
        "coat", "coats", "jeans", "denim", "trousers", "pants", "shorts", "skirt", "blouse", "suit", "suits",
        "uniform", "uniforms", "workwear", "sportswear", "activewear", "leggings", "underwear", "lingerie",
        "bra", "socks", "pajamas", "abaya", "abayas", "hijab", "hijabs", "kaftan", "jalabiya", "thobe", "saree",
        "scarf", "scarves", "shawl", "gloves fashion", "hat", "hats", "cap", "caps", "beanie", "shoes", "shoe",
        "sneakers", "sneaker", "boots", "sandals", "sandal", "slippers", "footwear", "heels", "loafers",
        "bag", "bags", "handbag", "handbags", "backpack", "backpacks", "wallet", "wallets", "purse", "tote",
        "luggage", "suitcase", "fabric", "fabrics", "textile", "textiles", "yarn", "yarns", "polyester fabric",
        "cotton fabric", "silk", "chiffon", "lace", "linen", "velvet", "leather", "jewelry", "jewellery",
        "necklace", "bracelet", "earrings", "ring", "rings", "watch", "watches", "sunglasses", "eyewear",
        "belt", "belts", "tie", "embroidery", "knitted", "knitwear", "baby clothes", "kids wear", "fashion",
        "одежда", "обувь", "ткань", "ملابس", "احذية", "عباية", "ropa", "zapatos",
    ),
    "machinery_industrial": (
        "machine", "machines", "machinery", "equipment", "industrial", "plant", "production line", "line",
        "cnc", "lathe", "milling", "drilling", "grinder", "grinding", "cutting machine", "laser cutting",
        "welding", "welder", "compressor", "air compressor", "pump", "pumps", "valve", "valves", "motor",
        "motors", "engine", "gearbox", "bearing", "bearings", "generator", "generators", "diesel generator",
        "transformer", "inverter", "solar panel", "solar panels", "solar", "turbine", "boiler", "chiller",
        "excavator", "bulldozer", "crane", "forklift", "loader", "tractor", "harvester", "conveyor", "hoist",
        "elevator", "lift", "stacker", "press", "hydraulic", "pneumatic", "injection molding", "extruder",
        "mixer industrial", "crusher", "mill", "packing machine", "packaging machine", "filling machine",
        "bottling", "printing machine", "printer", "3d printer", "sewing machine", "embroidery machine", "loom",
        "tools", "tool", "drill", "hand tools", "power tools", "wrench", "spanner", "hammer", "saw", "blade",
        "scaffolding", "construction", "building materials", "tiles", "tile", "marble", "granite", "brick",
        "bricks", "steel structure", "prefab", "container house", "door", "doors", "window", "windows",
        "aluminium profile", "pipe", "pipes", "fittings", "flange", "hose", "cable tray", "plc", "vfd",
        "circuit breaker", "switchgear", "relay", "contactor", "automation", "robot", "instrument", "meter",
        "gauge", "tester", "spare parts", "parts machine", "mold", "mould", "dies", "cooling pad", "fan industrial",
        "industrial fan", "air conditioner", "hvac", "refrigeration", "cold room", "water treatment", "ro plant",
        "filter", "filters", "safety shoes", "safety helmet", "fire extinguisher", "oil rig", "drilling rig",
        "станок", "оборудование", "насос", "двигатель", "генератор", "آلة", "معدات", "مولد",
    ),
    "medical_health": (
        "medical", "medicine", "medicines", "pharmaceutical", "pharmaceuticals", "pharma", "drug", "drugs",
        "tablet medicine", "tablets", "capsule", "capsules", "syrup", "injection", "injections", "vaccine",
        "antibiotic", "antibiotics", "paracetamol", "ibuprofen", "insulin", "hospital", "clinic", "surgical",
        "surgery", "syringe", "syringes", "needle", "catheter", "cannula", "gauze", "bandage", "plaster",
        "wound", "dressing", "gloves nitrile", "nitrile gloves", "latex gloves", "examination gloves",
        "face masks", "surgical mask", "n95", "kn95", "ppe", "gown", "protective", "disinfectant", "sanitizer",
        "hand sanitizer", "thermometer", "oximeter", "blood pressure", "glucometer", "stethoscope", "wheelchair",
        "crutches", "hospital bed", "x-ray", "ultrasound", "ecg", "dental", "dental implant", "orthopedic",
        "implant", "diagnostic", "test kit", "rapid test", "covid", "supplement", "supplements", "vitamin",
        "vitamins", "multivitamin", "probiotic", "nutraceutical", "herbal medicine", "cupping", "hijama",
        "massager", "massage chair", "hearing aid", "contact lenses", "condom", "condoms", "lab equipment",
        "laboratory", "microscope", "centrifuge", "медицинск", "лекарств", "طبي", "طبية", "أدوية",
    ),
    "home_living": (
        "furniture", "sofa", "sofas", "chair", "chairs", "table", "tables", "desk", "bed", "beds", "mattress",
        "wardrobe", "cabinet", "cabinets", "shelf", "shelves", "home decor", "decor", "decoration", "decorations",
        "curtain", "curtains", "carpet", "carpets", "rug", "rugs", "blanket", "blankets", "quilt", "duvet",
        "pillow", "pillows", "cushion", "bedding", "bed sheet", "bed sheets", "towel", "towels", "kitchenware",
        "cookware", "pot", "pots", "pan", "pans", "kitchen", "cutlery", "spoon", "fork", "knife", "knives", "plate",
        "plates", "bowl", "bowls", "cup", "cups", "mug", "mugs", "tumbler", "tumblers", "glassware", "dinnerware",
        "tableware", "flask", "thermos", "lunch box", "water bottle", "storage box", "organizer", "hanger",
        "vase", "candle", "candles", "lamp", "lamps", "chandelier", "mirror", "clock", "photo frame",
        "artificial flowers", "garden", "outdoor furniture", "umbrella", "tent", "camping", "toy", "toys", "doll",
        "dolls", "puzzle",
        "lego", "plush", "stuffed", "baby stroller", "stroller", "crib", "sports", "fitness", "gym", "dumbbell",
        "treadmill", "yoga mat", "bicycle helmet", "football", "soccer ball", "ball", "balls", "racket", "golf",
        "fishing", "stationery", "pen", "pens", "pencil", "notebook", "paper notebook", "sticker", "stickers",
        "office supplies", "school bag", "pet", "pets", "pet food", "cat litter", "litter box", "dog", "cat",
        "aquarium", "cleaning", "mop", "broom", "detergent", "laundry", "dish", "washing powder", "air freshener",
        "home appliance", "blender", "kettle", "toaster", "microwave", "oven", "fridge", "refrigerator",
        "washing machine", "vacuum cleaner", "iron", "sewing", "bathroom accessories", "faucet", "sink",
        "toilet", "shower", "мебель", "игрушки", "посуда", "أثاث", "ألعاب", "muebles", "juguetes",
    ),
    "vehicles_transport": (
        "car", "cars", "vehicle", "vehicles", "auto", "automobile", "automotive", "truck", "trucks", "lorry",
        "bus", "buses", "van", "pickup", "suv", "sedan", "motorcycle", "motorcycles", "motorbike", "scooter",
        "scooters", "e-bike", "ebike", "bicycle", "bicycles", "bike", "bikes", "atv", "utv", "golf cart",
        "trailer", "trailers", "tractor trailer", "boat", "boats", "yacht", "ship", "vessel", "jet ski",
        "aircraft", "helicopter", "tyre", "tyres", "tire", "tires", "rim", "rims", "wheel", "wheels",
        "alloy wheels", "car parts", "auto parts", "spare parts car", "bumper", "headlight", "headlights",
        "tail light", "taillight", "grille", "fender", "fenders", "hood", "mirror car", "brake", "brakes",
        "brake pads", "clutch", "shock absorber", "suspension", "radiator", "exhaust", "muffler", "piston",
        "spark plug", "alternator", "starter", "car battery", "windshield", "wiper", "seat cover", "dashboard",
        "steering", "axle", "toyota", "lexus", "nissan", "honda", "hyundai", "kia", "mazda", "mitsubishi",
        "suzuki", "subaru", "ford", "chevrolet", "gmc", "jeep", "dodge", "tesla", "bmw", "mercedes", "benz",
        "audi", "volkswagen", "vw", "porsche", "cayenne", "land rover", "range rover", "jaguar", "volvo",
        "peugeot", "renault", "fiat", "byd", "geely", "chery", "haval", "great wall", "land cruiser", "hilux",
        "prado", "camry", "corolla", "patrol", "электромобиль", "автомобиль", "запчасти", "سيارة", "سيارات",
        "قطع غيار", "coche", "carro",
    ),
    "packaging_general": (
        "packaging", "package", "packing", "carton", "cartons", "corrugated", "box", "boxes", "mailer box",
        "gift box", "paper box", "paper bag", "paper bags", "kraft bag", "shopping bag", "plastic bag",
        "plastic bags", "poly bag", "polybag", "zipper bag", "ziplock", "pouch", "pouches", "stand up pouch",
        "label", "labels", "sticker labels", "tape", "packing tape", "stretch film", "shrink film", "wrap",
        "bubble wrap", "foam", "pallet", "pallets", "container packaging", "jar", "jars", "bottle", "bottles",
        "plastic bottle", "glass bottle", "can", "cans", "tin can", "cap closure", "closures", "lid", "lids",
        "food container", "food packaging", "takeaway", "disposable cups", "paper cups", "straw", "straws",
        "cup sleeve", "tray", "trays", "blister", "clamshell", "sachet", "bag in box", "jumbo bag", "fibc",
        "woven bag", "pp woven", "sack", "sacks", "drum", "drums", "ibc", "printing box", "custom box",
        "упаковка", "коробки", "تغليف", "كرتون", "embalaje",
    ),
}


@cache
def _patterns() -> dict[str, re.Pattern[str]]:
    compiled = {}
    for industry, terms in LEXICON.items():
        # \b does not work for Arabic/Cyrillic stems glued to suffixes, so non-ASCII terms match as prefixes.
        ascii_terms = sorted({t for t in terms if t.isascii()}, key=len, reverse=True)
        other_terms = sorted({t for t in terms if not t.isascii()}, key=len, reverse=True)
        parts = []
        if ascii_terms:
            parts.append(r"(?<![a-z0-9])(?:" + "|".join(re.escape(t) for t in ascii_terms) + r")(?![a-z0-9])")
        if other_terms:
            parts.append("(?:" + "|".join(re.escape(t) for t in other_terms) + ")")
        compiled[industry] = re.compile("|".join(parts), re.I)
    return compiled


LEXICON_INDUSTRIES: tuple[str, ...] = tuple(LEXICON)


def lexicon_hits(text: str) -> dict[str, int]:
    """How many domain terms of each industry ``text`` contains."""
    return {industry: len(pattern.findall(text)) for industry, pattern in _patterns().items()}


def lexicon_features(texts: list[str]) -> np.ndarray:
    """A (texts, industries) matrix of log-scaled term counts."""
    patterns = _patterns()
    out = np.zeros((len(texts), len(patterns)), dtype=np.float32)
    for row, text in enumerate(texts):
        for col, pattern in enumerate(patterns.values()):
            out[row, col] = len(pattern.findall(text))
    return np.log1p(out)
